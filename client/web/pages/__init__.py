"""The web app's pages, one module per area: `start` (identity, unlock, joining), `home`
(the start page, search, checks, exports, live events), `issues`, `meetings`, `writing`
(notes, commitments, updates), `items` (any item, comments, files, withdrawing) and
`members`. `base` is what they share."""
