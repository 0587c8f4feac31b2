extension DeployConfig {
    /// `strategy:` in shipit.yml: how a release reaches the hosts. `symlink` ships an artifact built
    /// on the deployer and switches `current`; `image` deploys an image tag every host pulls. What a
    /// caller outside the strategies needs to know about it is a property here, so the decision
    /// stays with the config.
    public enum Strategy: String, Sendable {
        case symlink, image

        /// Whether a deploy names an image tag (`--tag`) rather than the source of an artifact
        /// (`--from DIR`, `--ref GITREF`).
        public var deploysImageTag: Bool { self == .image }
    }
}
