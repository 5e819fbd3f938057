@testable import KmodguardService
import KmodguardCompletion
import KmodguardCore
import Testing

/// "Any state" checked, not sampled (issue 13): every state the boot state machine can reach
/// from every world and every grubenv kmodguard or an admin can leave, with GRUB, the guard and
/// the post-boot service deciding as the shipped code does (`BootModel`).
@Suite struct BootStateModelTests {
    /// A kernel without its driver is booted at most this many times in a row.
    static let maxBadBootsInARow = 2

    struct Exploration {
        var states: [BootModel.State] = []
        var index: [BootModel.State: Int] = [:]
        var edges: [[(to: Int, kind: BootModel.EdgeKind, label: String)]] = []
        var parent: [Int: (from: Int, label: String)] = [:]
        var halfWritten: [String] = []

        mutating func add(_ state: BootModel.State, from: Int?, label: String) -> (Int, Bool) {
            if let known = index[state] { return (known, false) }
            let id = states.count
            states.append(state)
            index[state] = id
            edges.append([])
            if let from { parent[id] = (from, label) }
            return (id, true)
        }

        /// Breadth-first over every reachable state.
        static func explore(from initial: [BootModel.State]) -> Exploration {
            var result = Exploration()
            var queue: [Int] = []
            for state in initial {
                let (id, isNew) = result.add(state, from: nil, label: "")
                if isNew { queue.append(id) }
            }
            var head = 0
            while head < queue.count {
                let id = queue[head]
                head += 1
                let successors: [BootModel.Edge]
                do {
                    successors = try BootModel.successors(result.states[id])
                } catch {
                    result.halfWritten.append(String(describing: error) + " from " + result.states[id].description)
                    continue
                }
                for edge in successors {
                    let (to, isNew) = result.add(edge.to, from: id, label: edge.label)
                    result.edges[id].append((to, edge.kind, edge.label))
                    if isNew { queue.append(to) }
                }
            }
            return result
        }

        var transitions: Int { edges.reduce(0) { $0 + $1.count } }

        /// How `id` was reached from an initial state.
        func trace(to id: Int) -> [String] {
            var lines: [String] = []
            var current = id
            while let step = parent[current] {
                lines.append("  " + step.label + "\n    -> " + states[current].description)
                current = step.from
            }
            lines.append("  start: " + states[current].description)
            return lines.reversed()
        }

        /// A cycle made of bad boots only (the machine reboots itself forever and never reaches
        /// a kernel with its driver), as the state ids along it; nil when there is none.
        func badCycle() -> [Int]? {
            var color = [UInt8](repeating: 0, count: states.count)
            var stack: [(node: Int, next: Int)] = []
            var path: [Int] = []
            for start in states.indices where color[start] == 0 {
                stack = [(start, 0)]
                path = [start]
                color[start] = 1
                while let top = stack.last {
                    let bad = edges[top.node].filter { $0.kind == .badBoot }
                    if top.next < bad.count {
                        stack[stack.count - 1].next += 1
                        let to = bad[top.next].to
                        if color[to] == 1, let at = path.firstIndex(of: to) { return Array(path[at...]) + [to] }
                        if color[to] == 0 {
                            color[to] = 1
                            stack.append((to, 0))
                            path.append(to)
                        }
                    } else {
                        color[top.node] = 2
                        stack.removeLast()
                        path.removeLast()
                    }
                }
            }
            return nil
        }

        /// The most bad boots in a row on any path (the bad-boot graph has no cycle).
        func longestBadRun() -> (length: Int, end: Int) {
            var memo = [Int?](repeating: nil, count: states.count)
            func longest(_ node: Int) -> Int {
                if let known = memo[node] { return known }
                let best = edges[node].filter { $0.kind == .badBoot }.map { 1 + longest($0.to) }.max() ?? 0
                memo[node] = best
                return best
            }
            var best = (0, 0)
            for node in states.indices where longest(node) > best.0 { best = (longest(node), node) }
            return best
        }
    }

    static let exploration = Exploration.explore(from: BootModel.initialStates())

    func describeCycle(_ cycle: [Int], in exploration: Exploration) -> String {
        var lines = ["counterexample: a reboot loop that never reaches a kernel with its driver", "path to it:"]
        lines += exploration.trace(to: cycle[0])
        lines.append("loop:")
        for (from, to) in zip(cycle, cycle.dropFirst()) {
            let edge = exploration.edges[from].first { $0.to == to && $0.kind == .badBoot }
            lines.append("  " + (edge?.label ?? "?") + "\n    -> " + exploration.states[to].description)
        }
        return lines.joined(separator: "\n")
    }

    @Test func everyReachableStateIsExploredAndEveryWriteIsAWholeBlock() {
        let exploration = Self.exploration
        let stuck = exploration.states.filter { $0.stuckOn != nil }
        let stuckWithGood = stuck.filter { $0.world.oldHasDriver || $0.newHasDriver }
        print("boot-state model: \(exploration.states.count) states explored, \(exploration.transitions) transitions, "
              + "\(stuck.count) halted on a kernel without its driver (\(stuckWithGood.count) while a kernel with it exists)")
        #expect(exploration.states.count > 10_000)
        #expect(exploration.halfWritten.isEmpty, "\(exploration.halfWritten.prefix(3))")
        let torn = exploration.states.filter { state in (try? BootModel.persist(try BootModel.block(state.env))) != state.env }
        #expect(torn.isEmpty, "\(torn.prefix(3))")
    }

    @Test func noRebootLoopWithoutAKernelThatHasItsDriver() {
        let exploration = Self.exploration
        let cycle = exploration.badCycle()
        if let cycle { print(describeCycle(cycle, in: exploration)) }
        #expect(cycle == nil)
    }

    @Test func aKernelWithoutItsDriverBootsAtMostTwiceInARow() throws {
        let exploration = Self.exploration
        try #require(exploration.badCycle() == nil)
        let (length, end) = exploration.longestBadRun()
        print("boot-state model: at most \(length) boots in a row of a kernel without its driver")
        #expect(length <= Self.maxBadBootsInARow, "\(exploration.trace(to: end).joined(separator: "\n"))")
    }

    /// Where the guard lets a boot go on without its driver although another kernel has it,
    /// nothing can change what GRUB boots: GRUB cannot save_env (so it cannot clear a one-shot
    /// next_entry naming that kernel) and the guard cannot reach grubenv. GRUB alone would boot
    /// that entry forever there; rebooting would only loop.
    @Test func theGuardGivesUpOnlyWhereNothingCanChangeWhatGrubBoots() throws {
        let exploration = Self.exploration
        var halted = 0
        for (id, state) in exploration.states.enumerated() {
            guard let kernel = state.stuckOn, state.world.oldHasDriver || state.newHasDriver else { continue }
            halted += 1
            let step = try #require(exploration.parent[id])
            let before = exploration.states[step.from]
            let hopeless = state.world.single && !state.world.grubCanSave && before.env["next_entry"] == BootModel.path(kernel)
            #expect(hopeless, "\(exploration.trace(to: id).joined(separator: "\n"))")
        }
        #expect(halted > 0)
    }

    /// The model itself: the unarmed single-layout machine is in it, and it boots the new kernel.
    @Test func theUnarmedSingleLayoutMachineIsModelled() throws {
        let world = BootModel.World(single: true, grubCanSave: true, oldHasDriver: true, buildWorks: true,
                                    newVerifiedAtGeneration: false, activate: "reboot")
        let start = BootModel.State(world: world, env: [:], newHasDriver: false, newRecord: nil)
        let id = try #require(Self.exploration.index[start])
        let first = try #require(Self.exploration.edges[id].first { $0.kind != .cutInGrub })
        #expect(first.label.hasPrefix("GRUB boots " + BootModel.new.string))
    }

    /// prepare-shutdown is in the model (every orderly reboot after the service ran) and the two
    /// planners agree: the service already left GRUB on a kernel with its driver or armed its
    /// trial, so the shutdown check finds nothing to fix. (It matters when a kernel arrives after
    /// the service ran, which this two-kernel model does not have: the e2e scenario
    /// proactive-no-headers covers that; ShutdownPlannerTests its decisions.)
    @Test func prepareShutdownFindsNothingLeftToFixAfterTheService() {
        let labels = Self.exploration.edges.joined().map(\.label)
        let shutdowns = labels.filter { $0.contains("; prepare-shutdown") }
        let writing = shutdowns.filter { !$0.hasSuffix("prepare-shutdown writes nothing") }
        print("boot-state model: \(shutdowns.count) orderly reboots through prepare-shutdown, \(writing.count) of them write grubenv")
        #expect(shutdowns.count > 1000)
        #expect(writing.isEmpty, "\(writing.prefix(3))")
    }
}
