import socket

from softclock.sip.engine import EngineConfig, SipEngine


def test_tcp_transport_sets_tcp_nodelay() -> None:
    engine = SipEngine(lambda event: None, EngineConfig(bind_address="127.0.0.1"))
    cfg = engine.tcp_transport_config()
    opts = [(o.level, o.optName) for o in cfg.sockOptParams.sockOpts]
    assert opts == [(socket.IPPROTO_TCP, socket.TCP_NODELAY)]
    assert cfg.boundAddress == "127.0.0.1"
