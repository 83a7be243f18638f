"""The account: registration, registrar failover, and who may ring us.

One account at a time. With a registrar, a :class:`~softclock.sip.failover.RegistrarWatch`
pings it (and its backups) so a dead registrar is seen in seconds, not at the
next refresh; the account moves to a backup and back to the primary when it
answers again. The account's transports (TCP, TLS) are created on first use.
Out-of-dialog requests are let in by the :class:`~softclock.sip.inbound.InboundGuard`
(the registrar, its backups and the outbound proxy only; see :mod:`.inbound`).

Everything here runs on the engine's command thread or in a pjsua2 callback.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

import pjsua2 as pj

from softclock import events as ev
from softclock.sip import builders, messages
from softclock.sip.config import AccountConfig, EngineConfig
from softclock.sip.failover import (
    NO_ANSWER,
    NO_NETWORK,
    QUIET_S,
    QUIET_WITH_BACKUPS_S,
    REFUSED,
    UNKNOWN_HOST,
    RegistrarWatch,
)
from softclock.sip.inbound import InboundGuard
from softclock.sip.pjwrap import Account
from softclock.sip.runtime import Dispatcher, now
from softclock.sip.sipmsg import clean, from_wire, parse_message, parse_mwi

log = logging.getLogger("softclock.sip")

IncomingCall = Callable[[Account, pj.OnIncomingCallParam], None]

_UNREACHABLE = {
    NO_NETWORK: "No network: the server {server} cannot be reached",
    REFUSED: "Server unreachable: {server} refuses SIP (is it running?)",
    UNKNOWN_HOST: "Unknown server host {server} (DNS lookup failed)",
}


class Registration:
    """The account and its registration; the pjsua2 account's callbacks land here.

    Args:
        on_incoming_call: where an incoming INVITE goes (call control).
    """

    def __init__(self, dispatcher: Dispatcher, config: EngineConfig, on_incoming_call: IncomingCall) -> None:
        self._dispatcher = dispatcher
        self._config = config
        self._on_incoming_call = on_incoming_call
        self._ep: pj.Endpoint | None = None
        self._account: Account | None = None
        self._watch: RegistrarWatch | None = None
        self._tcp_id: int | None = None
        self._tls_id: int | None = None
        self._tls_ca = ""
        self._tls_problem = ""  # the last certificate complaint, for the registration sentence
        self.inbound = InboundGuard()

    @property
    def account(self) -> Account | None:
        return self._account

    def attach(self, ep: pj.Endpoint) -> None:
        self._ep = ep

    def note_tls_problem(self, text: str) -> None:
        """The endpoint saw a server certificate refused (any thread)."""
        self._tls_problem = text

    # ------------------------------------------------------------------ the account

    def set_account(self, config: AccountConfig) -> None:
        """Replace the account, registering it when it has a server."""
        assert self._ep is not None
        self.stop_watch()
        if self._account is not None:
            self._account.shutdown()
            self._account = None
            gc.collect()
        if config.transport == "tcp":
            self._ensure_tcp()
        elif config.transport == "tls":
            self._ensure_tls(config.tls_ca_file)
        account = Account(self, config)
        account.server = config.server
        self._account = account
        self._guard_inbound(config)
        if config.server:
            mono, utc = now()
            self._dispatcher.emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.REGISTERING, config.address, 0, "", f"Registering as {config.address}…"
                )
            )
        account.create(builders.account_config(config, config.server, self._tcp_id, self._tls_id), True)
        if not config.server:
            mono, utc = now()
            self._dispatcher.emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.LOCAL, config.address, 200, "", f"Ready as {config.address} (no server)"
                )
            )
            return
        # With one server too: pjsip alone would notice a dead registrar only
        # at the next refresh and a live one again only at its next retry.
        servers = list(config.servers)
        submit = self._dispatcher.submit
        self._watch = RegistrarWatch(
            servers,
            config.transport,
            lambda index: submit(lambda: self._switch_server(account, index)),
            interval_s=QUIET_WITH_BACKUPS_S if config.backup_servers else QUIET_S,
            on_status=lambda index, up, why: submit(lambda: self._on_server_status(account, servers[index], up, why)),
        )
        self._watch.start()

    def _guard_inbound(self, config: AccountConfig) -> None:
        """Accept calls only from this account's registrars and proxy, to its user (see .inbound)."""
        self.inbound.configure(
            enabled=bool(config.server) and not config.allow_direct_calls,
            servers=[*config.servers, config.outbound_proxy],
            transport=config.transport,
            users=[config.user],
        )
        self._resolve_inbound()

    def _resolve_inbound(self) -> None:
        if self.inbound.enabled:  # names are looked up off pjsua2's threads
            threading.Thread(target=self.inbound.resolve, name="sip-inbound-dns", daemon=True).start()

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def shutdown(self) -> None:
        """Unregister (pjsua2 may raise); the wrapper itself goes with :meth:`forget`."""
        if self._account is not None:
            self._account.shutdown()

    def forget(self) -> None:
        """At shutdown, before ``libDestroy()``: let go of the account and the endpoint.

        A Python reference to pjsua2's Endpoint that outlives ``libDestroy()`` destroys
        the *next* endpoint of the process when it is collected (pjsua2 keeps one instance).
        """
        self._account = None
        self._ep = None

    # ------------------------------------------------------------------ transports

    def tcp_transport_config(self) -> pj.TransportConfig:
        return builders.tcp_transport_config(self._config)

    def tls_transport_config(self, ca_file: str) -> pj.TransportConfig:
        return builders.tls_transport_config(self._config, ca_file)

    def _ensure_tls(self, ca_file: str) -> None:
        if self._ep is None:
            return
        if self._tls_id is not None and ca_file == self._tls_ca:
            return
        if self._tls_id is not None:
            self._ep.transportClose(self._tls_id)
        self._tls_id = self._ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, self.tls_transport_config(ca_file))
        self._tls_ca = ca_file

    def _ensure_tcp(self) -> None:
        if self._tcp_id is not None or self._ep is None:
            return
        self._tcp_id = self._ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, self.tcp_transport_config())

    # ------------------------------------------------------------------ failover and network changes

    def _switch_server(self, account: Account, index: int) -> None:
        """Register with another of the account's servers (failover or return)."""
        if account is not self._account or self._dispatcher.stopping:
            return
        config = account.config
        server = config.servers[index]
        if server == account.server:
            return
        log.warning("registrar failover: %s -> %s", account.server, server)
        account.server = server
        mono, utc = now()
        label = "primary server" if index == 0 else "backup server"
        self._dispatcher.emit(
            ev.RegistrationChanged(
                mono,
                utc,
                ev.RegState.REGISTERING,
                config.address,
                0,
                "",
                f"Registering as {config.address} with the {label} {server}…",
                server=server,
            )
        )
        account.modify(builders.account_config(config, server, self._tcp_id, self._tls_id))

    def _on_server_status(self, account: Account, server: str, up: bool, why: str) -> None:
        """The registrar in use stopped answering, or answers again."""
        if account is not self._account or self._dispatcher.stopping or server != account.server:
            return
        address = account.config.address
        mono, utc = now()
        if not up:
            text = _UNREACHABLE.get(why, "Server not answering: {server}").format(server=server)
            self._dispatcher.emit(
                ev.RegistrationChanged(
                    mono,
                    utc,
                    ev.RegState.FAILED,
                    address,
                    408 if why == NO_ANSWER else 503,
                    why,
                    f"{text}; registering again as soon as it answers",
                    None,
                    server,
                )
            )
            return
        self._dispatcher.emit(
            ev.RegistrationChanged(
                mono,
                utc,
                ev.RegState.REGISTERING,
                address,
                0,
                "",
                f"Server {server} answers again: registering as {address}…",
                None,
                server,
            )
        )
        try:
            account.setRegistration(True)
        except pj.Error as exc:  # e.g. a REGISTER of pjsip's own retry is under way
            log.info("re-registration after the server's return: %s", clean(exc.info()))

    def network_changed(self, reason: str) -> None:
        """The host woke up or its network changed: restart transports and re-register."""
        if self._ep is None:
            return
        log.warning("network change (%s): restarting SIP transports and registering again", reason)
        account = self._account
        if account is not None and account.config.server:
            mono, utc = now()
            self._dispatcher.emit(
                ev.RegistrationChanged(
                    mono,
                    utc,
                    ev.RegState.REGISTERING,
                    account.config.address,
                    0,
                    "",
                    f"Network changed ({reason}): registering again as {account.config.address}…",
                    None,
                    account.server,
                )
            )
        prm = pj.IpChangeParam()
        # A listener restart rebinds to the wildcard address (pjproject's guide):
        # keep a transport pinned to bind_address where the user asked for one.
        prm.restartListener = not self._config.bind_address
        self._ep.handleIpChange(prm)
        self._resolve_inbound()  # another network may have other DNS answers

    # ------------------------------------------------------------------ the account's callbacks

    def on_reg_state(self, account: Account, prm: pj.OnRegStateParam) -> None:
        if account is not self._account or self._dispatcher.stopping:
            return
        info = account.getInfo()
        code = int(prm.code)
        reason = clean(str(prm.reason))
        cfg = account.config
        if 200 <= code < 300:
            # Where the registrar answered from may ring us (e.g. a host DNS SRV chose).
            self.inbound.learn(str(prm.rdata.srcAddress))
        if info.regIsActive and 200 <= code < 300:
            state = ev.RegState.REGISTERED
            retry = None
        elif 200 <= code < 300:
            state, retry = ev.RegState.UNREGISTERED, None
        else:
            state = ev.RegState.FAILED
            retry = None if code in (401, 403, 407) else cfg.retry_interval_s
        mono, utc = now()
        host = builders.registrar_host(account.server)
        text = messages.registration(
            code, reason, cfg.address, bool(info.regIsActive), retry, host, tls_problem=self._tls_problem
        )
        if state is ev.RegState.REGISTERED and account.server != cfg.server:
            text += f" (backup server {account.server})"
        log.info("registration %s via %s: %d %s", cfg.address, account.server, code, reason)
        self._dispatcher.emit(
            ev.RegistrationChanged(mono, utc, state, cfg.address, code, reason, text, retry, account.server)
        )

    def on_incoming_call(self, account: Account, prm: pj.OnIncomingCallParam) -> None:
        self._on_incoming_call(account, prm)

    def on_mwi_info(self, account: Account, prm: pj.OnMwiInfoParam) -> None:
        body = clean(str(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        refusal = self.inbound.check(source, parse_message(from_wire(body)).request_uri)
        if refusal is not None:  # pjsua has answered it already: a stranger's voicemail light is ignored
            self.inbound.count("NOTIFY", source, refusal, answered="ignored")
            return
        waiting, new, old = parse_mwi(body)
        mono, utc = now()
        self._dispatcher.emit(ev.MessageWaiting(mono, utc, account.config.address, waiting, new, old))

    def on_incoming_subscribe(self, account: Account, prm: pj.OnIncomingSubscribeParam) -> None:
        message = parse_message(from_wire(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        refusal = self.inbound.check(source, message.request_uri)
        if refusal is not None:
            prm.code = refusal.code
            self.inbound.count("SUBSCRIBE", source, refusal)
