import logging

from softclock.logs import RedactingFilter, register_secret


def test_registered_secrets_never_reach_a_record(caplog) -> None:  # type: ignore[no-untyped-def]
    register_secret("hunter2-pw")
    logger = logging.getLogger("softclock.test")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", "hunter2-pw")
    assert "hunter2-pw" not in caplog.text
    assert "********" in caplog.text
