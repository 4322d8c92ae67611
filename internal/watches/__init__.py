"""Watches mode: a watches file maps a GroupVersionKind to a chart, as operator-sdk's Helm
operator reads it; each object of a watched kind becomes a Helm release of that chart."""
