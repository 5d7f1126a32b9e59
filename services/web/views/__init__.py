"""The web app's pages by area. Each module holds one mixin of page routes; the web service
(services/web/service.py) is made of them all."""
