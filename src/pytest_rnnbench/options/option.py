"""One row of the option table: an option's flags, environment variable, ini key and help, the
parser of its values, the Settings field it fills and its default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

__all__ = ["Context", "Option"]


@dataclass(frozen=True)
class Context:
    """What a default may depend on: the machine's GPUs and the matrix preset in force."""

    available_gpus: int
    preset: Mapping[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Option:
    """An option; its ini key is `dest`, its environment variable DEST (unless `in_env` is off)."""

    dest: str
    flags: tuple[str, ...]
    help: str
    metavar: Optional[str] = None
    action: Literal["store", "store_true", "append"] = "store"
    # text (or a list, or a bool from the command line) -> value, or ValueError saying what is
    # accepted; `takes` names what else it is given: the directory relative paths start from
    # (where the value was set), or the machine's GPU count.
    parse: Callable[..., Any] = str
    takes: Optional[Literal["base", "available_gpus"]] = None
    # The Settings field the value fills; several fields take a tuple value apart.
    field: Union[str, tuple[str, ...]] = ()
    # The value when no source sets the option, or a function of the run that gives it.
    default: Any = None
    default_from: Optional[Callable[[Context], Any]] = None
    # (value set, default) -> the value used, where a set value adjusts the default rather than
    # replacing it (per-backend entries over a preset's); None: the set value replaces it.
    over_default: Optional[Callable[[Any, Any], Any]] = None
    # The option fills this key of the mapping `field`, and leaves it out when not set.
    key: Optional[str] = None
    in_env: bool = True

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def env(self) -> Optional[str]:
        return self.dest.upper() if self.in_env else None

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if isinstance(self.field, str) else self.field

    @property
    def flag(self) -> str:
        """How messages name the option: every spelling, e.g. --gpus/--rnnbench-gpus."""
        return "/".join(self.flags)

    @property
    def merges(self) -> bool:
        """Whether every source's entries count (merged per key), not only the winning one's."""
        return self.action == "append"

    def default_for(self, context: Context) -> Any:
        """The value when no source sets the option."""
        return self.default if self.default_from is None else self.default_from(context)
