"""Admin routes: console accounts (/users) and a configuration reload (/reload).

Accounts go through :class:`~mailward.web._accounts.Accounts`, as `mailward user` does; every
change is audited under the admin's name, and an admin cannot remove or demote themself (so the
console is never left without the account that is using it). A reload asks the running gateway
to re-read its configuration, as SIGHUP or `mailward reload` do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailward.errors import StoreError
from mailward.web._accounts import ROLES, Session
from mailward.web._guard import action, console_of, is_api, page, refuse, run


@page("admin")
async def users_page(request: Request, session: Session) -> Response:
    console = console_of(request)
    users = await run(console.accounts.users)
    if is_api(request):
        return JSONResponse({"users": [{"name": u.name, "role": u.role} for u in users]})
    return console.render(request, "users.html", users=users, roles=ROLES,
                          can_reload=console.reload is not None,
                          done=request.query_params.get("done", "")[:200])


def _done(request: Request, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"done": message})
    return RedirectResponse(f"/users?{urlencode({'done': message})}", status_code=303)


@action("admin")
async def users_change(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    op = str(fields.get("op") or "")
    name = str(fields.get("name") or "").strip()
    role = str(fields.get("role") or "")
    password = str(fields.get("password") or "")
    if name == session.user.name and op in ("remove", "role"):
        return refuse(request, 400, "you cannot remove or change the role of your own account")
    accounts = console.accounts
    try:
        if op == "add":
            await run(accounts.add_user, name, password, role)
            what = f"added {name} ({role})"
        elif op == "passwd":
            await run(accounts.set_password, name, password)
            what = f"password of {name} changed; its sessions ended"
        elif op == "role":
            await run(accounts.set_role, name, role)
            what = f"{name} is now {role}; its sessions ended"
        elif op == "remove":
            await run(accounts.remove_user, name)
            what = f"removed {name}"
        else:
            return refuse(request, 400, "op must be add, passwd, role or remove")
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    await run(console.store.audit, session.user.name, f"user-{op}", f"user:{name}", [], what)
    return _done(request, what)


@action("admin")
async def reload(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    if console.reload is None:
        return refuse(request, 503, "only the running gateway reloads its configuration")
    console.reload()
    await run(console.store.audit, session.user.name, "reload", "configuration", [],
              str(fields.get("reason") or ""))
    return _done(request, "reload requested: the gateway re-reads its configuration now")


def routes() -> list[Route]:
    return [
        Route("/users", users_page, methods=["GET"]),
        Route("/api/users", users_page, methods=["GET"]),
        Route("/users", users_change, methods=["POST"]),
        Route("/api/users", users_change, methods=["POST"]),
        Route("/reload", reload, methods=["POST"]),
        Route("/api/reload", reload, methods=["POST"]),
    ]
