"""Text bound for a spreadsheet (every CSV export) goes through here."""

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula, defused with a leading apostrophe.

    Only text is touched: numbers and dates we format ourselves cannot carry a formula, and
    a negative number (days to renewal, a change) must stay a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value
