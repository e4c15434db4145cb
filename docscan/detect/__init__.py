"""Document detection: edge map -> page quadrilateral -> flat scan, and its evaluation."""
