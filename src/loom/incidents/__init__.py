"""Operations: alerts from monitoring systems, grouped into incidents with a probable
root cause on the service dependency graph, the changes that may have caused them, and
a timeline of everything that happened."""
