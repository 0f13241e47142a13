"""Mypy plugin: TaskFlow calls in a DAG file take upstream results as XComArgs.

``@task`` gives the decorated function Airflow's ``Task`` protocol, whose ``__call__`` keeps
the function's parameter types (``Callable[FParams, XComArg]``, airflow.sdk.bases.decorator).
A DAG file passes XComArgs there, which the task receives resolved at run time, so mypy
refuses every call whose task takes a typed contract. Airflow's own answer is a mypy
plugin (``outputs`` in apache-airflow-mypy; the source of it read for this hooks Airflow 2's
``airflow.decorators.base.Task``, not the Task SDK's); this one does the same for the Task
SDK, more narrowly: each parameter accepts ``T | XComArg``
(a wrong plain value is still an error), and the call returns ``PlainXComArg``, which is
what ``XComArg(operator)`` builds (indexable for a pushed key: ``found["site"]``).
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.checker import TypeChecker
from mypy.nodes import TypeInfo
from mypy.plugin import MethodContext, MethodSigContext, Plugin
from mypy.types import FunctionLike, Instance, Type, UnionType

TASK_CALL = "airflow.sdk.bases.decorator.Task.__call__"
XCOM_ARG_MODULE = "airflow.sdk.definitions.xcom_arg"


def _accept_xcom_args(ctx: MethodSigContext) -> FunctionLike:
    sig = ctx.default_signature
    xcom_arg = sig.ret_type  # Task.__call__ is declared to return XComArg
    return sig.copy_modified(arg_types=[UnionType.make_union([t, xcom_arg]) for t in sig.arg_types])


def _plain_xcom_arg(ctx: MethodContext) -> Type:
    # Looked up by module: the checker's named_type walks packages, and "airflow" does not
    # list "sdk" among its names. The module is loaded: the one defining Task imports it.
    assert isinstance(ctx.api, TypeChecker)
    info = ctx.api.modules[XCOM_ARG_MODULE].names["PlainXComArg"].node
    assert isinstance(info, TypeInfo)
    return Instance(info, [])


class TaskFlowPlugin(Plugin):
    def get_method_signature_hook(self, fullname: str) -> Callable[[MethodSigContext], FunctionLike] | None:
        return _accept_xcom_args if fullname == TASK_CALL else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _plain_xcom_arg if fullname == TASK_CALL else None


def plugin(version: str) -> type[Plugin]:
    return TaskFlowPlugin
