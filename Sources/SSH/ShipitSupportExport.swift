// SSH's API hands out the support types (`TailBuffer` in exec results, `POSIXFailure` from file
// descriptors) and its callers use the same helpers beside it, so importing SSH brings them too.
@_exported import ShipitSupport
