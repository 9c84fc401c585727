"""``regtune predict``: apply a saved model to new rows."""

from __future__ import annotations

from typing import Annotated

import typer

from regtune.cli._common import errors


def register(app: typer.Typer) -> None:
    app.command()(predict)


def predict(
    model: Annotated[str, typer.Argument(help="A model file written by `regtune tune DATA --save-model PATH`.")],
    data: Annotated[str, typer.Argument(help="CSV file (.csv or .csv.gz) or - for standard input.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Write the predictions as CSV to PATH, or - for stdout.")
    ] = "-",
    id_column: Annotated[
        str | None, typer.Option("--id", help="A column of the data to copy into the output (e.g. a row id).")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """Apply a saved model to new rows: one output row per input row, in order.

    Regression writes `prediction`; classification writes `prediction` (the class) and `proba_<class>`
    per class. The model's training columns must all be present; other columns are ignored (and named
    on stderr). A model tuned with --offset or --exposure needs that column too: its predictions are
    means (counts, costs) for each row's exposure.

    Example: regtune predict model.regtune new.csv --id id --output predictions.csv
    """
    from regtune.data import read_table
    from regtune.modelfile import load_model
    from regtune.modelfile import predict as apply_model
    from regtune.report._output import check_destination, write_output
    from regtune.report.predictions import predictions_csv

    with errors(debug):
        if output != "-":
            check_destination(output, "--output", (model, data))
        saved = load_model(model)
        prediction = apply_model(saved, read_table(data), id_column)
        write_output(output, predictions_csv(prediction.frame))
    if prediction.ignored:
        shown = ", ".join(prediction.ignored[:10]) + (", …" if len(prediction.ignored) > 10 else "")
        typer.echo(f"note: ignored {len(prediction.ignored)} column(s) the model does not use: {shown}", err=True)
