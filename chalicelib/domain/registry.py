"""The one extension point: modifiers, validators, directive handlers, resolvers, hooks, backends.

Contrib modules register themselves here by decorator; the kernel never imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

HOOKS = (
    "session.created",
    "session.modified",
    "session.committed",
    "order.created",
    "order.status_changed",
    "directive.completed",
    "directive.failed",
)
# State changes whose follow-up directives are written in the same transaction as the change itself.
REACTION_EVENTS = ("session.abandoned", "order.status_changed")
Stage = Literal["draft", "commit"]
# The seed's event retry policy: a handler is tried once and retried at most 3 times, then dead-lettered.
EVENT_HANDLER_ATTEMPTS = 4
EVENT_TOPIC_PREFIX = "event."
# (topic, payload) of a directive a reaction asks for
DirectiveRequest = tuple[str, dict[str, Any]]


def _callable(target: Any, method: str) -> Callable[..., Any]:
    """Accept a function, or a class whose instance has `method` (the seed's handler classes)."""
    if isinstance(target, type):
        return getattr(target(), method)
    if hasattr(target, method) and not callable(target):
        return getattr(target, method)
    return target


@dataclass(order=True)
class _Ordered:
    order: int
    name: str
    fn: Callable[..., Any] = field(compare=False)


class Registry:
    def __init__(self) -> None:
        self._modifiers: dict[str, _Ordered] = {}
        self._validators: dict[Stage, dict[str, _Ordered]] = {"draft": {}, "commit": {}}
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._handler_attempts: dict[str, int] = {}
        self._resolvers: dict[str, Callable[..., Any]] = {}
        self._hooks: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOKS}
        self._backends: dict[tuple[str, str], Any] = {}
        self._reactions: dict[str, dict[str, Callable[..., list[DirectiveRequest]]]] = {
            event: {} for event in REACTION_EVENTS}
        self._event_handlers: dict[str, list[str]] = {}

    # modifiers: pure transforms of the working session, (session, channel, ctx) -> None
    def register_modifier(self, name: str, order: int = 100) -> Callable[[Any], Any]:
        def deco(target: Any) -> Any:
            self._modifiers[name] = _Ordered(order, name, _callable(target, "modify"))
            return target

        return deco

    def modifiers(self) -> list[Callable[..., Any]]:
        return [m.fn for m in sorted(self._modifiers.values())]

    # validators: pure gates, (session, channel, ctx) -> None, raise a DomainError to refuse
    def register_validator(self, name: str, stage: Stage = "draft", order: int = 100) -> Callable[[Any], Any]:
        if stage not in self._validators:
            raise ValueError(f"unknown validator stage {stage!r}")

        def deco(target: Any) -> Any:
            self._validators[stage][name] = _Ordered(order, name, _callable(target, "validate"))
            return target

        return deco

    def validators(self, stage: Stage) -> list[Callable[..., Any]]:
        return [v.fn for v in sorted(self._validators[stage].values())]

    # directive handlers: (directive, ctx) -> dict result; `max_attempts` overrides the global default
    def register_handler(self, topic: str, max_attempts: int | None = None) -> Callable[[Any], Any]:
        def deco(target: Any) -> Any:
            self._handlers[topic] = _callable(target, "handle")
            if max_attempts is not None:
                self._handler_attempts[topic] = max_attempts
            return target

        return deco

    def handler_max_attempts(self, topic: str) -> int | None:
        return self._handler_attempts.get(topic)

    def handler(self, topic: str) -> Callable[..., Any] | None:
        return self._handlers.get(topic)

    def has_handler(self, topic: str) -> bool:
        return topic in self._handlers

    # event handlers (the seed's observer pattern): (event, ctx) -> dict. Each handler of each domain event runs as
    # its own directive (topic `event.<name>`), written in the same transaction as the event; a channel turns
    # handlers on by name in `config.event_handlers`.
    def register_event_handler(self, event_type: str, name: str | None = None,
                               max_attempts: int = EVENT_HANDLER_ATTEMPTS) -> Callable[[Any], Any]:
        def deco(target: Any) -> Any:
            handler_name = name or getattr(target, "name", None) or target.__name__
            handle = _callable(target, "handle")

            def run(directive: Any, ctx: Any) -> Any:
                from .events import OrderEvent

                return handle(OrderEvent.model_validate(directive.payload["event"]), ctx)

            names = self._event_handlers.setdefault(event_type, [])
            if handler_name not in names:
                names.append(handler_name)
            self.register_handler(EVENT_TOPIC_PREFIX + handler_name, max_attempts=max_attempts)(run)
            return target

        return deco

    def event_handlers(self, event_type: str) -> list[str]:
        return list(self._event_handlers.get(event_type, []))

    def has_event_handler(self, name: str) -> bool:
        return any(name in names for names in self._event_handlers.values())

    # resolvers: (session, issue, action, ctx) -> list of ops, applied through the modify pipeline
    def register_resolver(self, source: str) -> Callable[[Any], Any]:
        def deco(target: Any) -> Any:
            self._resolvers[source] = _callable(target, "resolve")
            return target

        return deco

    def resolver(self, source: str) -> Callable[..., Any] | None:
        return self._resolvers.get(source)

    # reactions: pure, (subject, channel, ctx) -> [(topic, payload)]; their directives are written atomically
    # with the change (a hook runs after it and could be lost with the process, a reaction cannot)
    def register_reaction(self, event: str, name: str) -> Callable[[Any], Any]:
        if event not in self._reactions:
            raise ValueError(f"unknown reaction event {event!r}; known: {', '.join(REACTION_EVENTS)}")

        def deco(fn: Callable[..., list[DirectiveRequest]]) -> Callable[..., list[DirectiveRequest]]:
            self._reactions[event][name] = fn
            return fn

        return deco

    def reactions(self, event: str, *args: Any) -> list[DirectiveRequest]:
        return [request for fn in self._reactions[event].values() for request in fn(*args)]

    # hooks fire after the write they describe has succeeded
    def register_hook(self, event: str) -> Callable[[Any], Any]:
        if event not in self._hooks:
            raise ValueError(f"unknown hook {event!r}; known: {', '.join(HOOKS)}")

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._hooks[event].append(fn)
            return fn

        return deco

    def unregister_hook(self, event: str, fn: Callable[..., Any]) -> None:
        if fn in self._hooks.get(event, []):
            self._hooks[event].remove(fn)

    def fire(self, event: str, *args: Any) -> None:
        # The write already happened: a failing hook is logged, never turned into a failed request.
        for fn in self._hooks[event]:
            try:
                fn(*args)
            except Exception:
                log.exception("hook %s failed in %s", event, getattr(fn, "__name__", fn))

    def register_backend(self, kind: str, name: str = "default", backend: Any = None) -> Any:
        """Call with the backend, or use as a class decorator (the class is instantiated once)."""
        if backend is not None:
            self._backends[(kind, name)] = backend
            return backend

        def deco(target: Any) -> Any:
            self._backends[(kind, name)] = target() if isinstance(target, type) else target
            return target

        return deco

    def backend(self, kind: str, name: str = "default") -> Any:
        try:
            return self._backends[(kind, name)]
        except KeyError:
            raise LookupError(f"no {kind!r} backend named {name!r} is registered") from None

    def unregister(self, kind: str, name: str) -> None:
        """Remove one registration (tests and plug-ins that swap an implementation)."""
        if kind == "modifier":
            self._modifiers.pop(name, None)
        elif kind == "validator":
            for stage in self._validators.values():
                stage.pop(name, None)
        elif kind == "handler":
            self._handlers.pop(name, None)
            self._handler_attempts.pop(name, None)
        elif kind == "event_handler":
            for names in self._event_handlers.values():
                if name in names:
                    names.remove(name)
            self._handlers.pop(EVENT_TOPIC_PREFIX + name, None)
            self._handler_attempts.pop(EVENT_TOPIC_PREFIX + name, None)
        elif kind == "resolver":
            self._resolvers.pop(name, None)
        elif kind == "reaction":
            for reactions in self._reactions.values():
                reactions.pop(name, None)
        else:
            raise ValueError(f"cannot unregister {kind!r}")


registry = Registry()


def event_handler(event_type: str, name: str | None = None) -> Callable[[Any], Any]:
    """The seed's `@event_handler(OrderCreated)`, on the process registry."""
    return registry.register_event_handler(event_type, name)
