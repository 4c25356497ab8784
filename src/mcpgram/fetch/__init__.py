"""Fetching URLs for the agent without reaching what the gateway's own network can reach (SSRF).

``policy`` holds the pure checks (which URLs, hosts and addresses), ``fetcher`` the network I/O
(one lookup per hop, connections pinned to the checked addresses, a byte cap, timeouts), and
``streaming`` a fetch still arriving, which an upload reads as it lands. ``send_message``'s files
(``tools/files.py``) use it for files given by URL.
"""
