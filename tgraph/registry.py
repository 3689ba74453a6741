"""A name -> object registry with a clear error for unknown names.

Activations, initializers, losses and optimizers are looked up by name from spec files
and the command line. Other packages can add optimizers through the
``tgraph.optimizers`` entry-point group (see :class:`Registry`).
"""

import warnings
from importlib.metadata import entry_points

from tgraph.errors import ConfigError, unknown_name_message

__all__ = ["Registry"]


class Registry:
    """Names mapped to objects, filled by :meth:`register` and by entry points.

    Args:
        what: what the registry holds, used in messages (e.g. ``"optimizer"``).
        entry_point_group: an ``importlib.metadata`` entry-point group whose entries
            are loaded the first time a name is not found (or all names are listed), or
            ``None``. A name registered with :meth:`register` wins over an entry point
            of the same name; an entry point that fails to import is skipped with a
            warning.
    """

    def __init__(self, what, entry_point_group=None):
        self.what = what
        self._entries = {}
        self._group = entry_point_group
        self._entry_points_loaded = entry_point_group is None

    def register(self, name, obj=None):
        """Register ``obj`` under ``name``; usable as a decorator.

        Args:
            name: the lookup name, case-insensitive.
            obj: the object; when omitted, returns a decorator.

        Returns:
            ``obj`` (or the decorator), so that registration does not change it.
        """
        if obj is None:
            return lambda o: self.register(name, o)
        self._entries[name.lower()] = obj
        return obj

    def get(self, name):
        """Look up ``name``.

        Raises:
            ConfigError: the name is unknown; the message lists the known names.
        """
        key = str(name).lower()
        if key not in self._entries and not self._entry_points_loaded:
            self._load_entry_points()
        if key not in self._entries:
            raise ConfigError(unknown_name_message(self.what, name, self._entries))
        return self._entries[key]

    def names(self):
        """All registered names, sorted."""
        if not self._entry_points_loaded:
            self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name):
        return str(name).lower() in self.names()

    def _load_entry_points(self):
        self._entry_points_loaded = True
        for entry in entry_points(group=self._group):
            if entry.name.lower() in self._entries:
                continue  # a name registered in tgraph or by the user wins
            try:
                self._entries[entry.name.lower()] = entry.load()
            except Exception as err:  # a broken plugin must not break the other names
                warnings.warn(
                    f"{self.what} {entry.name!r} of the {self._group!r} entry points "
                    f"({entry.value}) failed to load and is skipped: {type(err).__name__}: "
                    f"{err}; fix or uninstall the package that provides it",
                    stacklevel=3)
