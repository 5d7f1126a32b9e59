from services.node_worker import main

main()
