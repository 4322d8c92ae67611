"""Source mechanisms: fetching Helm indexes, charts, Git and bucket content and OCI artifacts,
and the pure decisions about them (versions, revisions, refs, ignore rules). Wiring lives in
`controller.sources`."""
