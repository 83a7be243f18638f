import socket

from softclock.sip.builders import tcp_keepalive_options
from softclock.sip.config import EngineConfig
from softclock.sip.engine import SipEngine


def test_tcp_transport_sets_tcp_nodelay_and_keepalive() -> None:
    engine = SipEngine(lambda event: None, EngineConfig(bind_address="127.0.0.1", keepalive_s=20))
    cfg = engine.tcp_transport_config()
    opts = [(o.level, o.optName) for o in cfg.sockOptParams.sockOpts]  # SWIG hides the values
    assert opts == [
        (socket.IPPROTO_TCP, socket.TCP_NODELAY),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    ]
    assert tcp_keepalive_options(20)[1:] == [
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 20),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20),
    ]
    assert cfg.boundAddress == "127.0.0.1"


def test_tcp_keepalive_off() -> None:
    engine = SipEngine(lambda event: None, EngineConfig(keepalive_s=0))
    cfg = engine.tcp_transport_config()  # kept: SWIG's sockOpts points into it
    opts = [(o.level, o.optName) for o in cfg.sockOptParams.sockOpts]
    assert opts == [(socket.IPPROTO_TCP, socket.TCP_NODELAY)]
