"""Package data: the style sheet (and icons, the .desktop file and metainfo as they come)."""
