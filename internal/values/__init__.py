"""Chart values: composing valuesFrom and inline values as Flux does, and Helm's --set paths."""
