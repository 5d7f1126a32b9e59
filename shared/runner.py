"""Runs nameko services as `nameko run` does, and stops them promptly and cleanly.

    python -m shared.runner --config deploy/nameko.yml services.referrals.service:ReferralsService

`nameko run` answers SIGTERM by scheduling a green thread to stop the service, but eventlet's
hub sleeps on in epoll until some socket or timer wakes it, so a quiet service (no timer of its
own) went on for as long as a minute before it even began to stop. Here the signal wakes the hub
through a pipe it watches. The service then takes no new work, finishes what is in flight (the
HTTP requests begun, a timer's run), closes its connections and exits 0; whatever is still
running after STOP_SECONDS is killed, and the process exits 1.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.config
import os
import signal
import sys
import time

import eventlet
from eventlet.event import Event

log = logging.getLogger("peerlink.runner")

# The bound on stopping: the web server's wait for answers (shared.webserver.DRAIN_SECONDS, 5 s)
# and the dependencies' closing after it. A container's grace period (docker-compose.yml,
# stop_grace_period) is longer, so the runtime never has to kill a service.
STOP_SECONDS = 7.0

_stop_asked = False


def is_stopping() -> bool:
    """True once the process was asked to stop: a long run of work (a batch loop) ends after
    the piece in hand, and what is left is found again when the service starts."""
    return _stop_asked


def _signal_pipe() -> int:
    """SIGTERM and SIGINT write a byte to a pipe (the interpreter's wakeup fd) whose reading end
    is returned: a green thread waiting on it wakes at once, whatever the hub was waiting for."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)  # handled through the pipe
    return read_end


def _await_signal(read_end: int) -> None:
    from eventlet.hubs import trampoline

    while True:
        trampoline(read_end, read=True)
        try:
            if os.read(read_end, 64):
                return
        except BlockingIOError:
            continue


def serve(runner, stop_seconds: float = STOP_SECONDS) -> int:
    """Start the runner's services and run them until a signal (or until they die of an
    error, which is raised); returns the process's exit status."""
    global _stop_asked
    read_end = _signal_pipe()
    runner.start()
    outcome = Event()
    ended = eventlet.spawn(runner.wait)
    asked = eventlet.spawn(_await_signal, read_end)
    ended.link(lambda _: outcome.ready() or outcome.send("ended"))
    asked.link(lambda _: outcome.ready() or outcome.send("asked"))
    if outcome.wait() == "ended":
        asked.kill()
        ended.wait()  # raises what killed a service
        return 0
    _stop_asked = True
    log.info("stopping: taking no new work, finishing what is in flight")
    started = time.monotonic()
    try:
        with eventlet.Timeout(stop_seconds):
            runner.stop()
    except eventlet.Timeout:
        log.error("still busy %.0f s after being asked to stop: killing what is left", stop_seconds)
        runner.kill()
        return 1
    log.info("stopped in %.1f s", time.monotonic() - started)
    return 0


def main(argv=None) -> None:
    eventlet.monkey_patch()  # before nameko, kombu and the services are imported
    import yaml
    from nameko.cli.main import setup_yaml_parser
    from nameko.cli.run import import_service
    from nameko.runners import ServiceRunner

    parser = argparse.ArgumentParser(prog="python -m shared.runner")
    parser.add_argument("--config", required=True, help="nameko's YAML configuration")
    parser.add_argument("services", nargs="+", help="module:Class of each service")
    args = parser.parse_args(argv)
    setup_yaml_parser()  # ${PEERLINK_...} in the configuration, as nameko run reads it
    with open(args.config) as config_file:
        config = yaml.safe_load(config_file)
    if "LOGGING" in config:
        # this module's logger exists already: it is configured, not silenced
        logging.config.dictConfig({"disable_existing_loggers": False, **config["LOGGING"]})
    else:
        logging.basicConfig(level=logging.INFO)
    if "." not in sys.path:
        sys.path.insert(0, ".")
    runner = ServiceRunner(config)
    for path in args.services:
        for service_cls in import_service(path):
            runner.add_service(service_cls)
    status = serve(runner)
    # every connection was closed as the services stopped; collecting the heap's cycles (green
    # threads among them) on the way out would delay the exit by seconds on a busy machine
    gc.disable()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    # run as shared.runner, so that the services asking is_stopping() ask this very module
    from shared.runner import main as run

    run()
