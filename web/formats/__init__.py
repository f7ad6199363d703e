"""File formats: spreadsheet reading, import plans, exports and the column definitions they share."""
