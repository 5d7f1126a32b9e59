from services.hub_worker import main

main()
