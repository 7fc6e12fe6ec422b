"""Helpers to build notebooks the way Jupyter writes them (nbformat 4: indent 1, sorted keys, final newline)."""

from __future__ import annotations

import json
from typing import Optional


def code_cell(source: str, outputs: Optional[list] = None, execution_count: Optional[int] = None) -> dict:
    """A code cell whose source is stored as a list of lines, as Jupyter stores it."""
    return {
        "cell_type": "code",
        "execution_count": execution_count,
        "metadata": {},
        "outputs": outputs or [],
        "source": source.splitlines(keepends=True),
    }


def markdown_cell(source: str) -> dict:
    """A markdown cell."""
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}


def notebook_document(cells: list[dict], language: str = "python") -> dict:
    """A notebook document with the metadata a Python 3 kernel writes."""
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"},
            "language_info": {"name": language, "version": "3.11.0"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_bytes(cells: list[dict], language: str = "python") -> bytes:
    """The bytes Jupyter (nbformat.write) would save for these cells."""
    text = json.dumps(notebook_document(cells, language), sort_keys=True, indent=1, ensure_ascii=False)
    return (text + "\n").encode("utf-8")
