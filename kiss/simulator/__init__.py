"""A Twitch simulator: EventSub WebSocket, Helix subscriptions and conduits, OAuth, on one port.

    async with Simulator(SimulatorConfig(port=0, time_unit=0.02)) as sim:
        sim.ws_url, sim.helix_url, sim.oauth_url, sim.state

See ``kiss/simulator/README.md`` for the control API and the CLI.
"""

from kiss.simulator.adapters.server import Simulator
from kiss.simulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "Simulator", "SimulatorConfig"]
