# JupyterHub configuration for the hubmill image (deploy/Dockerfile).
#
# JupyterHub listens on 8000, hubmill on 8002 (as in the seed's container);
# hubmill is also reachable through the hub's proxy at /services/hubmill/.
# Every value below can be changed with the environment variable next to it,
# so the same file serves the container and the tests that run it outside
# Docker (test/deploy/deploy-files.test.ts).
#
# hubmill runs managed by the hub (HUBMILL_MODE=managed, the default: the hub
# starts it with `command` and hands it JUPYTERHUB_* variables), external
# (HUBMILL_MODE=external: start.sh starts it next to the hub, the hub only
# proxies to `url` and accepts its `api_token`) or remote (HUBMILL_MODE=remote:
# hubmill runs elsewhere, e.g. the API nodes of deploy/compose/scale-out.yml
# behind a load balancer at HUBMILL_URL; nothing is started here).
import json
import os
import shlex

env = os.environ.get
c = get_config()  # noqa: F821 - provided by JupyterHub

HUB_DATA = env("JUPYTERHUB_DATA_DIR", "/srv/jupyterhub")
HUBMILL_DIR = env("HUBMILL_DIR", "/opt/hubmill")
HUBMILL_PORT = int(env("HUBMILL_PORT", "8002"))
HUBMILL_HOST = env("HUBMILL_HOST", "0.0.0.0")
HUBMILL_MODE = env("HUBMILL_MODE", "managed")
if HUBMILL_MODE not in ("managed", "external", "remote"):
    raise ValueError("HUBMILL_MODE must be 'managed', 'external' or 'remote', not %r" % HUBMILL_MODE)
# Where the proxy sends /services/hubmill/: hubmill on this machine, or (remote) its load balancer.
HUBMILL_URL = env("HUBMILL_URL", "http://127.0.0.1:%d" % HUBMILL_PORT)
if HUBMILL_MODE == "managed" and env("HUBMILL_URL"):
    raise ValueError("HUBMILL_URL is for HUBMILL_MODE=external or remote; a managed hubmill listens on 127.0.0.1:HUBMILL_PORT")
HOME_TEMPLATE = env("HUBMILL_HOME_TEMPLATE", "/home/{username}")

# --- the hub -----------------------------------------------------------------
c.JupyterHub.ip = env("JUPYTERHUB_IP", "0.0.0.0")
c.JupyterHub.port = int(env("JUPYTERHUB_PORT", "8000"))
# The hub's own API: 127.0.0.1 when hubmill runs here; 0.0.0.0 when remote hubmill nodes call it.
c.JupyterHub.hub_ip = env("JUPYTERHUB_HUB_IP", "127.0.0.1")
c.JupyterHub.hub_port = int(env("JUPYTERHUB_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % int(env("JUPYTERHUB_PROXY_API_PORT", "8001"))
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HUB_DATA, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HUB_DATA, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(HUB_DATA, "jupyterhub.pid")

# Users: PAM (system accounts with homes in /home, created by start.sh from
# HUB_USERS) by default; "dummy" for trials and tests.
c.JupyterHub.authenticator_class = env("JUPYTERHUB_AUTHENTICATOR", "pam")
if env("JUPYTERHUB_DUMMY_PASSWORD"):
    c.DummyAuthenticator.password = env("JUPYTERHUB_DUMMY_PASSWORD")
c.Authenticator.admin_users = set(u for u in env("HUB_ADMIN_USERS", "admin").split(",") if u)
c.JupyterHub.spawner_class = env("JUPYTERHUB_SPAWNER", "localprocess")
if c.JupyterHub.spawner_class == "simple":
    # SimpleLocalProcessSpawner runs servers as the hub's own user in these homes.
    c.SimpleLocalProcessSpawner.home_dir_template = HOME_TEMPLATE
c.Spawner.cmd = ["/usr/bin/jupyterhub-singleuser"]
if os.geteuid() == 0 and c.JupyterHub.spawner_class == "simple":
    c.Spawner.args = ["--allow-root"]

# --- hubmill as a JupyterHub service --------------------------------------------
with open(env("HUBMILL_SERVICE_TOKEN_FILE", os.path.join(HUB_DATA, "hubmill_api_token"))) as f:
    SERVICE_TOKEN = f.read().strip()

hubmill = {
    "name": "hubmill",
    "url": HUBMILL_URL,  # the proxy sends /services/hubmill/ here
    "api_token": SERVICE_TOKEN,  # also hubmill's OAuth client secret
    "oauth_no_confirm": True,  # users are not asked to approve hubmill
    # Listed in the hub's Services menu; the link opens /services/hubmill/, which sends
    # browsers to hubmill's web UI (signed in through the hub's OAuth).
    "display": True,
}
if HUBMILL_MODE == "managed":
    command = env("HUBMILL_COMMAND")
    hubmill["command"] = shlex.split(command) if command else [
        "node", "--max-semi-space-size=2", os.path.join(HUBMILL_DIR, "dist", "cli", "index.js"), "serve",
        "--host", HUBMILL_HOST, "--port", str(HUBMILL_PORT),
    ]
    hubmill["cwd"] = HUBMILL_DIR
    hubmill["environment"] = {
        name: os.environ[name]
        for name in os.environ
        if name.startswith("HUBMILL_") and name != "HUBMILL_COMMAND"
    }
    hubmill["environment"].update({"HUBMILL_HOST": HUBMILL_HOST, "HUBMILL_PORT": str(HUBMILL_PORT), "HUBMILL_HOME_TEMPLATE": HOME_TEMPLATE})

c.JupyterHub.services = [hubmill]

c.JupyterHub.load_roles = [
    {
        # What hubmill needs from the hub: who users are, and (for runs in a
        # user's own server) starting and reaching their servers.
        "name": "hubmill",
        "services": ["hubmill"],
        "scopes": ["read:users", "list:users", "admin:servers", "access:servers"],
    },
    {
        # Every user may open hubmill (JupyterHub 3-5; on 6 use c.JupyterHub.extra_user_scopes).
        "name": "user",
        "scopes": ["self", "access:services!service=hubmill"],
    },
]

extra = env("JUPYTERHUB_EXTRA_CONFIG")
if extra and os.path.exists(extra):
    exec(compile(open(extra).read(), extra, "exec"))  # site-specific additions
