public enum ShipitVersion {
    public static let current = "0.1.0"
}
