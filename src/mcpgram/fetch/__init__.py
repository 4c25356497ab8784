"""Fetching URLs for the agent without reaching what the gateway's own network can reach (SSRF).

``policy`` holds the pure checks (which URLs, hosts and addresses), ``fetcher`` the network I/O
(one lookup per hop, connections pinned to the checked addresses, a byte cap, timeouts). Not yet
used by any tool: the files work of issue 11 wires it to ``send_file`` and friends.
"""
