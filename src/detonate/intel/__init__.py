"""intel: the threat report over a time window (`detonate report`), read from the store:
`figures.gather` computes, `render.render` writes JSON, Markdown or self-contained HTML."""
