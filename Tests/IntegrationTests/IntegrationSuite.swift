import Testing

/// Every integration test shares one knot and one DoT terminator and counts what they see, so they run one at a
/// time (`.serialized` applies to the nested suites too).
@Suite(.serialized) struct IntegrationSuite {}
