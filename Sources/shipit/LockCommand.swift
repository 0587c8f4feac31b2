import ArgumentParser
import Foundation
import ShipitCore

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Show or release the deploy lock on every host.",
        subcommands: [Status.self, Release.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show who holds the lock on each host, and for how long.")
        @OptionGroup var common: ConfigOptions

        func run() async throws {
            do {
                let config = try common.load()
                let anyHeld = try await LockCommand.show(config)
                if anyHeld { throw ExitCode(ShipitExit.locked.rawValue) }
            } catch let e as ShipitError {
                Console.shared.err("shipit lock status: \(e.message)")
                throw ExitCode(e.exitCode.rawValue)
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a lock left by a dead run (needs --force).")
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Really remove the lock, whoever holds it.")
        var force = false

        func run() async throws {
            do {
                guard force else { throw ShipitError.input("--force is required: releasing another run's lock lets two deploys overlap") }
                let config = try common.load()
                _ = try await LockCommand.show(config)
                let fleet = Fleet(hosts: config.hosts, settings: config.connection)
                let transport = SSHTransport(fleet: fleet)
                let cmd = StrategyCommands.make(config).forceUnlock()
                let results = await fleet.forEachHost { host -> String in
                    do { _ = try await transport.run(host, cmd); return "released" } catch { return "FAILED: \(ErrorText.withoutHost(error))" }
                }
                await transport.close()
                for h in config.hosts { Console.shared.out("\(h): lock \(results[h] ?? "?")") }
            } catch let e as ShipitError {
                Console.shared.err("shipit lock release: \(e.message)")
                throw ExitCode(e.exitCode.rawValue)
            }
        }
    }

    /// Prints each host's lock holder and age; returns whether any host is locked.
    static func show(_ config: DeployConfig) async throws -> Bool {
        let fleet = Fleet(hosts: config.hosts, settings: config.connection)
        let transport = SSHTransport(fleet: fleet)
        let cmd = StrategyCommands.make(config).inventory()
        let results = await fleet.forEachHost { host -> Result<ScriptOutput, Error> in
            do { return .success(ScriptOutput(try await transport.run(host, cmd).stdoutText)) } catch { return .failure(error) }
        }
        await transport.close()
        var dead: Set<String> = []
        if let ledger = await LedgerAccess.forReading(config).ledger { dead = Set(await LedgerStore.deadHolders(ledger, config: config)) }
        var anyHeld = false
        for h in config.hosts {
            switch results[h] {
            case let .success(out)?:
                if let holder = out.first("lock.holder") {
                    anyHeld = true
                    let started = out.first("lock.started") ?? "?"
                    let age = ISO8601DateFormatter().date(from: started).map { " (\(Int(Date().timeIntervalSince($0)))s ago)" } ?? ""
                    Console.shared.out("\(h): LOCKED by \(out.first("lock.by") ?? "?") pid \(out.first("lock.pid") ?? "?") since \(started)\(age): \(out.first("lock.reason") ?? "") [holder \(holder)]\(dead.contains(holder) ? " STALE: that run died (the ledger has it as interrupted); the next deploy from this machine takes the lock over" : "")")
                } else {
                    Console.shared.out("\(h): free")
                }
            case let .failure(e)?: Console.shared.out("\(h): unreachable: \(ErrorText.withoutHost(e))")
            case nil: Console.shared.out("\(h): ?")
            }
        }
        return anyHeld
    }
}
