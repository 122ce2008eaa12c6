"""Plugin discovery on pluggy: entry points of the group ``zoo.plugins``, built-ins included.

The core imports no method by name: zoo's own methods are declared as entry points in its
``pyproject.toml`` exactly as a third party declares theirs, and found the same way.

Environment:

- ``ZOO_STRICT_PLUGINS=1``: a plugin that fails to import is an error instead of a warning.
- ``ZOO_BLOCK_PLUGINS=a,b``: skip the plugins with these entry-point names.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownNameError, ZooError
from .interfaces import CAPABILITIES, Method

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "ZooPluginWarning", "PluginManager", "get_plugin_manager", "reset_plugin_manager"]

ENTRY_POINT_GROUP = "zoo.plugins"
T = TypeVar("T")


class ZooPluginWarning(UserWarning):
    """A plugin failed to load and was skipped."""


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as `zoo plugins` shows it."""

    name: str
    source: str  # distribution name and version, or "registered in code"
    status: str  # "loaded", "blocked" or "failed: <reason>"


def _env_list(var: str) -> set[str]:
    return {s.strip() for s in os.environ.get(var, "").split(",") if s.strip()}


def _strict() -> bool:
    """Return whether ZOO_STRICT_PLUGINS asks for a broken plugin to be an error rather than a warning."""
    return os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0")


def _core_plugins() -> list[tuple[str, ModuleType]]:
    """Return the core's own hook implementations (datasets, evaluators, the gan-figures command), registered like any plugin."""
    from . import gan_figures
    from .data import catalog as datasets
    from .metrics import catalog as evaluators

    return [("zoo.data", datasets), ("zoo.metrics", evaluators), ("zoo.gan_figures", gan_figures)]


class PluginManager:
    """Finds plugins and collects what their hooks register."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.infos: list[PluginInfo] = []
        self._sources: dict[str, str] = {}
        self._owners: dict[str, dict[str, str]] = {}  # kind -> name -> plugin, as the last collection of that kind found them
        self._specs_asked: set[int] = set()  # the plugins whose zoo_add_hookspecs was called (once each)
        self._declared: dict[str, tuple[str, Callable[[Any], str], Callable[[Any, str], None]]] = {}  # their ZOO_COLLECT
        for name, module in _core_plugins():
            self.register(module, name=name, source="zoo core")
        if load_entry_points:
            self.load_entry_points()

    # ---- registration -------------------------------------------------------------------------
    def register(self, plugin: ModuleType | object, name: str | None = None, source: str = "registered in code") -> None:
        """Register a plugin object or module under `name` (its module name by default)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self._pm.has_plugin(name):
            raise PluginError(f"two plugins are named {name!r}: {self._sources[name]} and {source}. Uninstall or block one (ZOO_BLOCK_PLUGINS={name}).")
        if self._pm.is_registered(plugin):  # e.g. two entry points of one distribution naming the same module
            other = self._pm.get_name(plugin)
            raise PluginError(
                f"plugin {name!r} ({source}) is the module already registered as {other!r} ({self._sources[other]}). "
                f"Declare it under one entry-point name, or block one (ZOO_BLOCK_PLUGINS={name})."
            )
        try:
            self._add_hookspecs(plugin, name, source)
        except PluginError as e:
            raise PluginError(f"plugin {name!r} ({source}): {e}") from e
        self._pm.register(plugin, name=name)
        self._sources[name] = source
        self.infos.append(PluginInfo(name, source, "loaded"))

    def _add_hookspecs(self, plugin: object, name: str, source: str) -> None:
        """Add the hooks `plugin` declares for plugins of its own (``zoo_add_hookspecs``), if it declares any.

        Once per plugin (its entry point is asked before any plugin is checked, and not again when it registers), and all
        or nothing: every module it returns is checked before any hook is added, so a plugin refused here declares none.
        """
        fn = getattr(plugin, "zoo_add_hookspecs", None)
        if fn is None or self._pm.parse_hookimpl_opts(plugin, "zoo_add_hookspecs") is None or id(plugin) in self._specs_asked:
            return

        def refuse(specs: object, why: str) -> PluginError:
            return PluginError(f"its zoo_add_hookspecs returned {specs!r}: {why}. Return the modules holding "
                               "functions marked @zoo.hookspec, with names no other plugin uses, and a ZOO_COLLECT of "
                               "{hook: (kind, key, check)} for those hooks alone")

        try:
            modules, names = _listed(fn(), "hookspec module"), set()
        except Exception as e:  # noqa: BLE001 - a third party's hook
            raise PluginError(f"its zoo_add_hookspecs failed ({type(e).__name__}: {e})") from e
        for specs in modules:
            hooks = {n for n in dir(specs) if self._pm.parse_hookspec_opts(specs, n) is not None}
            taken = sorted(h for h in hooks if self.has_hook(h) or h in names)
            if not hooks or taken:
                raise refuse(specs, f"{'it declares no hook' if not hooks else 'the hook ' + ', '.join(taken) + ' is declared already'}")
            collect = getattr(specs, "ZOO_COLLECT", {})
            wrong = [h for h, how in (collect.items() if isinstance(collect, dict) else [(collect, None)])
                     if h not in hooks or not (isinstance(how, tuple) and len(how) == 3 and isinstance(how[0], str) and all(map(callable, how[1:])))]
            if wrong:
                raise refuse(specs, f"its ZOO_COLLECT entry for {wrong[0]!r} is not (kind, key, check) for one of its own hooks ({', '.join(sorted(hooks))})")
            names |= hooks
        for specs in modules:
            self._pm.add_hookspecs(specs)
            self._declared.update(getattr(specs, "ZOO_COLLECT", {}))
        self._specs_asked.add(id(plugin))  # once added (a plugin refused here, then fixed, is asked again when registered again)

    def load_entry_points(self) -> None:
        """Import and register every plugin of the ``zoo.plugins`` entry-point group."""
        blocked = _env_list("ZOO_BLOCK_PLUGINS")
        strict = _strict()
        seen: set[tuple[str, str]] = set()
        loaded = []
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
            if (ep.name, ep.value) in seen:  # the same dist seen twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            if ep.name in blocked:
                self.infos.append(PluginInfo(ep.name, dist, "blocked"))
                continue
            try:
                module = ep.load()
            except Exception as e:  # noqa: BLE001 - any import failure of a third party
                self._skip(ep, dist, "failed to import", f"{type(e).__name__}: {e}", strict, e)
                continue
            loaded.append((ep, dist, module))
        # every plugin's own hooks are declared before any plugin is checked, so one implementing only another plugin's hook
        # (a DDPM sampler) loads whatever the order of their names; zoo's own plugins declare theirs first, so that a
        # third party declaring the same hook is the one refused
        loaded.sort(key=lambda item: not (item[0].dist and item[0].dist.name == "zoo"))
        declared = []
        for ep, dist, module in loaded:
            try:
                self._add_hookspecs(module, ep.name, dist)
            except Exception as e:  # noqa: BLE001 - a third party's hook
                self._skip(ep, dist, "declares hooks zoo cannot add", str(e).rstrip("."), strict, e)
                continue
            declared.append((ep, dist, module))
        # blocked on purpose (a failed import is a broken environment, which the plugins that need it report as usual)
        switched_off = [i.name for i in self.infos if i.status == "blocked"]
        known = self._known_hooks()
        for ep, dist, module in sorted(declared, key=lambda item: item[0].name):
            hooks = set(self._implemented_hooks(module).values())
            misspelt = any(difflib.get_close_matches(h, known, n=1, cutoff=0.85) for h in hooks)  # zoo_register_method: warned below
            if hooks and switched_off and not misspelt and not any(h in known for h in hooks):  # a sampler plugin, the DDPM one blocked
                self.infos.append(PluginInfo(ep.name, dist, f"inactive: it implements only {', '.join(sorted(hooks))}, which no loaded "
                                                            f"plugin declares (blocked: {', '.join(switched_off)})"))
                continue
            problem = self._hook_problem(module, ep.value)
            if problem:
                self._skip(ep, dist, "registers nothing", problem, strict)
                continue
            self.register(module, name=ep.name, source=dist)

    def _skip(self, ep: importlib.metadata.EntryPoint, dist: str, what: str, reason: str, strict: bool, cause: Exception | None = None) -> None:
        """Report plugin `ep` as failed (an error when `strict`, else a warning) and leave it out."""
        if strict:
            raise PluginError(f"zoo plugin {ep.name!r} ({ep.value}, from {dist}) {what}: {reason}") from cause
        warnings.warn(
            f"zoo plugin {ep.name!r} ({ep.value}, from {dist}) {what} and was skipped: {reason}. "
            "Fix or uninstall it; set ZOO_STRICT_PLUGINS=1 to make this an error.",
            ZooPluginWarning,
            stacklevel=3,
        )
        self.infos.append(PluginInfo(ep.name, dist, f"failed: {reason}"))

    def _hook_problem(self, plugin: object, where: str) -> str | None:
        """Return why `plugin` (what entry point `where` names) would register nothing, or None.

        Hooks this zoo does not have are fine next to ones it has (a plugin written for a newer zoo);
        they are only a warning, and none at all for ``optionalhook=True``.
        """
        known = self._known_hooks()
        impls = {n: opts for n in dir(plugin) if (opts := self._pm.parse_hookimpl_opts(plugin, n)) is not None}
        hooks = self._implemented_hooks(plugin)
        if isinstance(plugin, type):
            unbound = [n for n in impls if not isinstance(inspect.getattr_static(plugin, n), staticmethod)]
            if unbound:
                return (f"{where} is a class whose hooks ({', '.join(unbound)}) need an instance. Name the module that "
                        f"holds the hook functions, or an instance of the class, in the entry point")
        if not any(h in known for h in hooks.values()):
            module = where.split(":")[0]
            unknown = [f"{h} (did you mean {g[0]}?)" if (g := difflib.get_close_matches(h, known, n=1)) else h for h in hooks.values()]
            if unknown:
                return f"{where} implements only hooks zoo does not have: {', '.join(unknown)}. zoo's hooks: {', '.join(known)} (zoo/hookspecs.py)"
            hint = f" (it names an object inside a module: name the module `{module}` instead)" if ":" in where else ""
            return (f"{where} has no function marked @zoo.hookimpl{hint}. The entry point must name the module that "
                    f"holds the hook functions, each decorated with @zoo.hookimpl; zoo's hooks: {', '.join(known)}")
        unknown = [h for n, h in hooks.items() if h not in known and not impls[n].get("optionalhook")]
        if unknown:
            warnings.warn(
                f"zoo plugin {where} implements hooks this zoo does not have, which are ignored: {', '.join(unknown)} "
                f"(zoo's hooks: {', '.join(known)}). Fix the names, or mark them @zoo.hookimpl(optionalhook=True).",
                ZooPluginWarning, stacklevel=4,
            )
        return None

    def _known_hooks(self) -> list[str]:
        """Return the names of the hooks declared: zoo's own and those loaded plugins add."""
        return sorted(n for n, caller in vars(self._pm.hook).items() if getattr(caller, "has_spec", lambda: False)())

    def _implemented_hooks(self, plugin: object) -> dict[str, str]:
        """Return {attribute: hook} of the functions `plugin` marks @zoo.hookimpl (a `specname` renames its hook)."""
        return {n: opts.get("specname") or n for n in dir(plugin) if (opts := self._pm.parse_hookimpl_opts(plugin, n)) is not None}

    # ---- collection ---------------------------------------------------------------------------
    def has_hook(self, hook: str) -> bool:
        """Return whether `hook` is declared: zoo's own, or one a loaded plugin adds (``zoo_add_hookspecs``)."""
        return getattr(getattr(self._pm.hook, hook, None), "has_spec", lambda: False)()

    def collect(self, hook: str, kind: str | None = None, key: Callable[[Any], str] | None = None,
                check: Callable[[Any, str], None] | None = None) -> dict[str, Any]:
        """Return what every plugin's `hook` registers, by `key`, as zoo collects methods: for a plugin's own hooks.

        `check(item, plugin)` raises :class:`zoo.PluginError` for an item that is wrong; that item is then skipped with
        a warning (an error under ZOO_STRICT_PLUGINS=1). Two plugins registering one name is an error, and an item named
        like one of zoo's own is skipped. `kind`, `key` and `check` default to what the hook's module declares in its
        ``ZOO_COLLECT = {hook: (kind, key, check)}``, which `zoo plugins` and the contract suite use too.
        `plugin_of(kind, name)` names the plugin behind each afterwards.
        """
        if not self.has_hook(hook):
            raise PluginError(f"no loaded plugin declares the hook {hook!r} (zoo_add_hookspecs); `zoo plugins` lists what is loaded.")
        declared = self._declared.get(hook)
        if declared is None and None in (kind, key, check):
            raise PluginError(f"the hook {hook!r} declares no ZOO_COLLECT entry (kind, key, check) in its module: pass them to collect().")
        kind, key, check = kind or declared[0], key or declared[1], check or declared[2]
        return {k: v for k, (v, _) in self._collect(hook, kind, key, check).items()}

    def collect_declared(self) -> None:
        """Call every hook a plugin declares with a ZOO_COLLECT entry, with its checks, so that a wrong item shows (`zoo plugins`)."""
        for hook in self._declared:
            self.collect(hook)

    def _collect(self, hook: str, kind: str, key: Callable[[Any], str], check: Callable[[Any, str], None]) -> dict[str, tuple[Any, str]]:
        """Return what every plugin's `hook` registers, by name, with the plugin's name; `check` refuses a wrong item.

        A hook that raises, or returns no list, is the plugin's fault: under ZOO_STRICT_PLUGINS=1 an error naming
        it, else a warning, and that plugin's items are left out, so that one broken plugin does not stop every command.
        """
        found: dict[str, tuple[Any, str]] = {}
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        # zoo's own first, whatever order pluggy calls them in (a plugin's tryfirst/trylast): a plugin never replaces them
        for impl in sorted(impls, key=lambda i: not self._is_zoos(i.plugin_name)):
            try:
                items = _listed(impl.function(), kind)
            except Exception as e:  # noqa: BLE001 - a third party's hook
                self._hook_failed(impl.plugin_name, hook, f"{type(e).__name__}: {e}", e)
                continue
            for item in items:
                try:
                    check(item, impl.plugin_name)
                    name = key(item)
                except PluginError as e:  # one wrong item: that plugin's fault, not every command's
                    self._hook_failed(impl.plugin_name, hook, str(e), e, skipped="that item was skipped")
                    continue
                except Exception as e:  # noqa: BLE001 - a plugin-declared key or check (ZOO_COLLECT) that fails on an item
                    self._hook_failed(impl.plugin_name, hook, f"{type(e).__name__}: {e}", e, skipped="that item was skipped")
                    continue
                if name in found and self._is_zoos(found[name][1]):  # zoo's own is never replaced
                    self._hook_failed(impl.plugin_name, hook, f"it registers the {kind} {name!r}, which is zoo's own; rename it", None,
                                      skipped="that item was skipped")
                    continue
                if name in found:
                    raise PluginError(f"two plugins register the {kind} {name!r}: {found[name][1]!r} and {impl.plugin_name!r}. "
                                      f"Uninstall or block one of them (ZOO_BLOCK_PLUGINS).")
                found[name] = (item, impl.plugin_name)
        self._owners[kind] = {name: plugin for name, (_, plugin) in found.items()}
        return found

    def _is_zoos(self, plugin: str) -> bool:
        """Return whether `plugin` is zoo's own: the core's, or a plugin of zoo's own distribution (dcgan, ddpm, ...)."""
        source = self._sources.get(plugin, "")
        return source == "zoo core" or source.startswith("zoo ")

    def _hook_failed(self, plugin: str, hook: str, reason: str, cause: Exception | None,
                     skipped: str = "what it registers there was skipped") -> None:
        """Report that `plugin`'s `hook` failed (an error under ZOO_STRICT_PLUGINS=1), and mark the plugin failed in `zoo plugins`."""
        what = f"zoo plugin {plugin!r} ({self._sources.get(plugin, 'registered in code')}): its hook {hook} failed ({reason.rstrip('.')})"
        if _strict():
            raise PluginError(f"{what}. Fix or uninstall the plugin.") from cause
        warnings.warn(f"{what}; {skipped}. Fix or uninstall it; set ZOO_STRICT_PLUGINS=1 to make this an error.",
                      ZooPluginWarning, stacklevel=4)
        self.infos = [PluginInfo(i.name, i.source, f"failed: {hook}: {reason}") if i.name == plugin and i.status == "loaded" else i
                      for i in self.infos]

    def methods(self) -> dict[str, type[Method]]:
        """Return every registered method class by name."""

        def check(cls: Any, plugin: str) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Method)):
                raise PluginError(f"plugin {plugin!r} registered {cls!r} as a method; expected a zoo.Method subclass.")
            if not cls.name:
                raise PluginError(f"plugin {plugin!r} registered {cls.__qualname__} without a `name`.")
            unknown = set(cls.capabilities) - CAPABILITIES
            if unknown:
                raise PluginError(f"method {cls.name!r} of plugin {plugin!r} declares unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}.")

        return {k: v for k, (v, _) in self._collect("zoo_register_methods", "method", lambda c: c.name, check).items()}

    def method_plugins(self) -> dict[str, str]:
        """Return the plugin name behind each method name."""
        self.methods()  # collected with its checks: a wrong item is skipped, not a crash here
        return dict(self._owners["method"])

    def method(self, name: str) -> type[Method]:
        """Return the method class called `name`, or raise with the closest names."""
        methods = self.methods()
        if name not in methods:
            raise UnknownNameError("method", name, methods, hint="Install the plugin that provides it (`zoo plugins` lists what is loaded)." + self.failures())
        return methods[name]

    def failures(self) -> str:
        """Return a sentence naming the plugins that did not load, with why ('' when all did): for unknown-name errors."""
        failed = [f"{i.name} ({i.status})" for i in self.infos if i.status.startswith("failed")]
        blocked = [i.name for i in self.infos if i.status == "blocked"]
        inactive = [i.name for i in self.infos if i.status.startswith("inactive")]
        return ((f" Plugins that did not load: {'; '.join(failed)}." if failed else "")
                + (f" Blocked by ZOO_BLOCK_PLUGINS: {', '.join(blocked)}." if blocked else "")
                + (f" Inactive, as what they extend did not load: {', '.join(inactive)}." if inactive else ""))

    def datasets(self) -> dict[str, Any]:
        """Return every registered :class:`zoo.data.DatasetInfo` by name."""
        return {k: v for k, (v, _) in self._collect("zoo_register_datasets", "dataset", lambda d: d.name, _check_dataset).items()}

    def evaluators(self) -> dict[str, Any]:
        """Return every registered evaluator by name."""
        return {k: v for k, (v, _) in self._collect("zoo_register_evaluators", "evaluator", lambda e: e.name, _check_evaluator).items()}

    def plugin_of(self, kind: str, name: str) -> str:
        """Return the name of the plugin that registers the `kind` ('method', 'dataset', 'evaluator', or a kind `collect`
        collected) `name` ('?' if none does)."""
        zoos = {"dataset": self.datasets, "evaluator": self.evaluators, "method": self.methods}
        if name not in self._owners.get(kind, {}) and kind in zoos:
            zoos[kind]()  # collected with their checks
        return self._owners.get(kind, {}).get(name, "?")

    def source_of(self, kind: str, name: str) -> str:
        """Return the distribution and version behind the `kind` `name` ('zoo 0.2.0', 'my-gan 0.1'; 'zoo core'; '?' if none)."""
        return self._sources.get(self.plugin_of(kind, name), "?")

    def commands(self) -> dict[str, Any]:
        """Return the extra `zoo` sub-commands plugins contribute, by name."""
        return {k: v for k, (v, _) in self._collect("zoo_register_commands", "command", lambda c: c.name, lambda *_: None).items()}

    def checked_infos(self) -> list[PluginInfo]:
        """Return `infos` after calling every hook once, so a plugin whose hook raises or returns a wrong item is shown failed.

        Loading a plugin only imports it; its hooks run when zoo first needs what they register (`zoo plugins` needs them all).
        """
        from .registry import entries  # the registry reads the plugins' registry files: a broken one is marked there

        self.methods(), self.datasets(), self.evaluators(), self.commands(), self.collect_declared()
        try:
            entries()
        except PluginError:  # a plugin's file under ZOO_STRICT_PLUGINS=1: an error, as its other hooks' are
            raise
        except ZooError:  # the main registry file's own fault: the plugins are listed all the same (`zoo list` names it)
            pass
        return self.infos

    def registry_files(self) -> list[Path]:
        """Return the extra registry files plugins provide."""
        return [path for _, path in self.plugin_registry_files()]

    def plugin_registry_files(self) -> list[tuple[str, Path]]:
        """Return (plugin name, registry file) of each extra registry file plugins provide."""
        return self._registry_files()

    def registry_file_failed(self, plugin: str, reason: str, cause: Exception | None = None) -> None:
        """Report that `plugin`'s registry file cannot be used (`reason`): a warning, or under ZOO_STRICT_PLUGINS=1 an error."""
        self._hook_failed(plugin, "zoo_register_models", reason, cause)

    def _registry_files(self) -> list[tuple[str, Path]]:
        files = []
        for impl in self._pm.hook.zoo_register_models.get_hookimpls():
            try:  # one path returned alone would be read as its characters, each a "file"
                files += [(impl.plugin_name, Path(p)) for p in _listed(impl.function(), "registry file path")]
            except Exception as e:  # noqa: BLE001 - a third party's hook
                self._hook_failed(impl.plugin_name, "zoo_register_models", f"{type(e).__name__}: {e}", e)
        return files

    def missing_registry_files(self) -> str:
        """Return a sentence naming the registry files plugins list that do not exist ('' when all do): for unknown-name errors.

        Not an error in itself (a plugin's first ``zoo register --registry`` creates its file), but where a plugin's models
        are missing, the usual cause is a wheel built without its package data (docs/plugins.md).
        """
        missing = [f"{path} (plugin {plugin!r})" for plugin, path in self.plugin_registry_files() if not path.is_file()]
        return (f" Registry files that plugins list but that do not exist: {'; '.join(missing)}; their models are not listed. A plugin "
                "yet to register its first model has none yet; one installed from a wheel built without its registry.toml and weights/ "
                "as package data has lost them (docs/plugins.md).") if missing else ""


def _listed(items: Any, kind: str) -> list[Any]:
    """Return what a hook returned as a list (None: empty); a single item, a string or a mapping is refused, naming `kind`."""
    if items is None:
        return []
    if isinstance(items, (str, bytes, Mapping, os.PathLike)) or not isinstance(items, Iterable):
        raise TypeError(f"it returned a {type(items).__name__}; expected a list of {kind}s")
    return list(items)


def _check_dataset(info: Any, plugin: str) -> None:
    from .data import DatasetInfo

    if not isinstance(info, DatasetInfo):
        raise PluginError(f"plugin {plugin!r} registered {info!r} as a dataset; expected a zoo.data.DatasetInfo (docs/plugins.md, 'Datasets').")
    if not info.name or not callable(info.read):
        raise PluginError(f"plugin {plugin!r} registered dataset {info.name!r} without a name or a callable read(split, folder).")


def _check_evaluator(ev: Any, plugin: str) -> None:
    import pydantic

    name = getattr(ev, "name", None)
    if isinstance(ev, type):
        raise PluginError(f"plugin {plugin!r} registered the class {ev.__qualname__} as an evaluator; register an instance of it ({ev.__qualname__}()).")
    if not isinstance(name, str) or not name or not callable(getattr(ev, "evaluate", None)):
        raise PluginError(f"plugin {plugin!r} registered {ev!r} as an evaluator; expected an object with a `name` and evaluate(model, **options) "
                          "(docs/plugins.md, 'Evaluators').")
    options = getattr(ev, "Options", None)
    if options is not None and not (isinstance(options, type) and issubclass(options, pydantic.BaseModel)):
        raise PluginError(f"evaluator {name!r} of plugin {plugin!r}: its Options is {options!r}; expected a pydantic.BaseModel subclass, or none.")


_lock = threading.Lock()
_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """Return the process-wide plugin manager, loading entry points on first use."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = PluginManager()
        return _manager


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Forget the process-wide plugin manager (or install `manager`): the next use rediscovers."""
    global _manager
    with _lock:
        _manager = manager
