"""The API's routers, one module per resource; each only parses, calls one use case, answers."""
