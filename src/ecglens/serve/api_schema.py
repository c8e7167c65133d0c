"""What the API declares to FastAPI (and so to ``/openapi.json`` and ``/docs``): the request
parameters (form fields, queries, path) and the documented error responses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import File, Form, Query, UploadFile
from fastapi import Path as PathParam

from ecglens.io.limits import MAX_FS, MIN_FS
from ecglens.serve.results import RESULT_ID
from ecglens.serve.staging import ACCEPTED

RESULT_HEADER = "X-Ecglens-Result"
MAX_BEATS = 32  # beats explained in one request

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request (several records, a bad zip...)"},
    404: {"description": "No such result (expired or never kept)"},
    413: {"description": "Upload over the size limit"},
    415: {"description": "A file type the server does not read"},
    422: {"description": "Invalid field, or an input error in the record"},
    503: {"description": "Busy (queue full) or over the time limit"},
}
for _spec in ERRORS.values():
    _spec["content"] = {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    }

FilesField = Annotated[
    list[UploadFile],
    File(default_factory=list,
         description=f"The record: {ACCEPTED}. Repeat the field for each file."),
]
FsField = Annotated[
    float | None,
    Form(ge=MIN_FS, le=MAX_FS, allow_inf_nan=False,
         description=f"Sampling rate in Hz ({MIN_FS:g}-{MAX_FS:,.0f}): needed for CSV/TXT/NPY, "
         "checked against headers."),
]
UnitsField = Annotated[
    Literal["mV", "uV", "V"] | None,
    Form(description="Unit of CSV/TXT/NPY samples; default: judged from their amplitude "
         "(values that fit an ECG only in uV or V are converted, with a warning)."),
]
ModelField = Annotated[
    str | None,
    Form(max_length=200, description="A loaded model (GET /models); default: chosen by the "
         "record (12 leads of at most 60 s: the 12-lead model; else the first beat model)."),
]
LeadField = Annotated[
    str | None,
    Form(max_length=64, description="Beat models: lead name or 0-based index (default MLII, "
         "else lead II, else the first signal)."),
]
ReviewField = Annotated[
    float | None,
    Form(ge=0, le=1, allow_inf_nan=False,
         description="Beat models: flag beats whose uncertainty (0-1) exceeds this."),
]
McField = Annotated[
    int | None,
    Form(ge=0, le=100, description="Beat models: MC-dropout passes (default: the model's)."),
]
DemoQuery = Annotated[
    str | None,
    Query(max_length=64, description="A shipped demo record (GET /demo) instead of files."),
]
KeepQuery = Annotated[
    bool,
    Query(description="Keep the prediction for /explain and /results; its id is in the "
          "X-Ecglens-Result header"),
]
ResultForm = Annotated[
    str | None,
    Form(pattern=RESULT_ID, description="A kept result (X-Ecglens-Result of /predict?keep=true)"),
]
BeatForm = Annotated[
    list[int] | None,
    Form(description=f"Beat models: 0-based beat index (repeat, at most {MAX_BEATS})"),
]
MethodForm = Annotated[
    str | None,
    Form(max_length=32, description="Explainer (default: the model's, grad-cam or cam)"),
]
FigureForm = Annotated[Literal["png", "svg", "none"], Form(description="Figure format")]
ResultPath = Annotated[str, PathParam(pattern=RESULT_ID, description="Id from X-Ecglens-Result.")]
