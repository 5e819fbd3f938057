import CSystem

/// Who this process is: its pid (to name temporary files no other run will pick) and the user
/// it runs as (root drops to the build user and isolates what it runs).
package enum ProcessIdentity {
    package static var pid: Int32 { getpid() }

    package static var effectiveUserID: UInt32 { UInt32(geteuid()) }

    package static var isRoot: Bool { geteuid() == 0 }
}
