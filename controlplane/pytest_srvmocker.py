"""asyncly's srvmocker pytest fixtures (`mock_routes`, `mock_service`), shipped with controlplane.

Loaded through the `controlplane_srvmocker` pytest11 entry point. Imports stay lazy:
loading this plugin must not import aiohttp.
"""
