"""The HTTP edge: ASGI middleware and routes around FastMCP's streamable-HTTP app.

``app.build_http_app`` assembles them; ``verifier`` turns bearer tokens into tenants, ``urlauth``
lets header-less clients put the token in the path, ``security`` adds headers, body limits and the
token-free access log, ``ratelimit`` locks out guessing addresses and throttles tenants, ``health``
answers liveness probes. Nothing here talks to Telegram or opens
a tenant's secrets: the edge only decides whether a request may reach the MCP server.
"""
