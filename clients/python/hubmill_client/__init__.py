"""Python client for hubmill, the notebook execution service for JupyterHub.

Standard library only. ``JupyterHubPapermillClient`` keeps the seed's methods
(``execute_notebook``, ``list_notebooks``) and adds the jobs, schedules and
pipelines APIs (pandas is used only when asked for a DataFrame).
"""

from .client import JupyterHubPapermillClient, HubmillClient
from .errors import (
    AuthError,
    BadRequest,
    HubmillError,
    JobFailed,
    NotFound,
    PipelineRunFailed,
    RateLimited,
    Timeout,
)

__all__ = [
    "JupyterHubPapermillClient",
    "HubmillClient",
    "HubmillError",
    "AuthError",
    "NotFound",
    "BadRequest",
    "RateLimited",
    "JobFailed",
    "PipelineRunFailed",
    "Timeout",
]
__version__ = "0.1.0"
