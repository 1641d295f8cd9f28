"""The thin Typer layer: parse arguments, call one library function, render the result."""
