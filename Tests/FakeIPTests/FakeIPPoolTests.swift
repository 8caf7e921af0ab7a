import DNSCore
import FakeIP
import Foundation
import Testing

struct BadTestInput: Error {}

func testRange(_ text: String) throws -> FakeIPRange {
    guard let prefix = IPPrefix(text), let range = FakeIPRange(prefix) else { throw BadTestInput() }
    return range
}

func testAddress(_ text: String) throws -> IPAddress {
    guard let address = IPAddress(text) else { throw BadTestInput() }
    return address
}

@Suite struct FakeIPPoolTests {
    /// A /29: six usable addresses, .1 to .6.
    func smallPool() throws -> FakeIPPool {
        FakeIPPool(range: try testRange("198.18.0.0/29"))
    }

    @Test func namesGetUniqueStableAddressesInOrder() throws {
        let pool = try self.smallPool()
        let first = pool.address(for: "a.test.", now: 1)
        #expect(first?.description == "198.18.0.1")
        #expect(pool.address(for: "b.test.", now: 2)?.description == "198.18.0.2")
        #expect(pool.address(for: "a.test.", now: 3) == first)
        #expect(pool.name(for: try #require(first)) == "a.test.")
        #expect(pool.name(for: try testAddress("198.18.0.5")) == nil)
        #expect(pool.name(for: try testAddress("10.0.0.1")) == nil)
    }

    @Test func aFullPoolRecyclesTheLeastRecentlyUsedNameWithoutAConnection() throws {
        let pool = try self.smallPool()
        for (index, name) in ["a", "b", "c", "d", "e", "f"].enumerated() {
            #expect(pool.address(for: "\(name).test.", now: Int64(index)) != nil)
        }
        _ = pool.address(for: "a.test.", now: 10)  // a is now the most recently used; b the least
        #expect(pool.pin(try testAddress("198.18.0.2"), now: 0) == "b.test.")  // b has a connection
        // c (.3) is the least recently used without a connection.
        #expect(pool.address(for: "g.test.", now: 11)?.description == "198.18.0.3")
        #expect(pool.name(for: try testAddress("198.18.0.3")) == "g.test.")
        #expect(!pool.contains("c.test."))
        #expect(pool.contains("b.test."))
        // Nothing idle long enough: no recycling, no address.
        #expect(pool.address(for: "h.test.", now: 12, minimumIdle: 100) == nil)
        pool.unpin(try testAddress("198.18.0.2"))
    }

    @Test func mappingsAndPositionSurviveARestart() async throws {
        let path = NSTemporaryDirectory() + "dnsgate-fakeip-\(UUID().uuidString)/fakeip.sqlite"
        let range = try testRange("198.18.0.0/29")
        do {
            let store = try FakeIPStore(path: path)
            let pool = FakeIPPool(range: range)
            for name in ["a", "b", "c"] { _ = pool.address(for: "\(name).test.", now: 5) }
            try store.write(pool.takeChanges(), range: range.description)
            #expect(pool.takeChanges().isEmpty)
        }
        let reopened = try FakeIPStore(path: path)
        let saved = try reopened.load(range: range.description)
        let pool = FakeIPPool(range: range)
        pool.restore(saved.mappings, cursor: saved.cursor)
        #expect(pool.address(for: "b.test.", now: 6)?.description == "198.18.0.2")
        // The allocator goes on after the last address handed out.
        #expect(pool.address(for: "new.test.", now: 6)?.description == "198.18.0.4")
        #expect(try FakeIPStore(readingExisting: path).ranges() == ["198.18.0.0/29"])
        #expect(throws: FakeIPStoreError.self) { _ = try FakeIPStore(readingExisting: path + ".missing") }
    }

    @Test func anUnusableDatabasePathIsAClearError() throws {
        let file = NSTemporaryDirectory() + "dnsgate-notadir-\(UUID().uuidString)"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: FakeIPStoreError.self) { _ = try FakeIPStore(path: file + "/fakeip.sqlite") }
        let garbage = NSTemporaryDirectory() + "dnsgate-garbage-\(UUID().uuidString).sqlite"
        try String(repeating: "not a database ", count: 100).write(toFile: garbage, atomically: true, encoding: .utf8)
        #expect(throws: FakeIPStoreError.self) { _ = try FakeIPStore(path: garbage) }
    }

    @Test func concurrentAsksForOneNewNameShareOneAddress() async throws {
        let pool = FakeIPPool(range: try testRange("198.18.0.0/15"))
        let addresses = await withTaskGroup(of: IPAddress?.self) { group in
            for _ in 0..<200 { group.addTask { pool.address(for: "same.test.", now: 1) } }
            return await group.reduce(into: Set<IPAddress?>()) { $0.insert($1) }
        }
        #expect(addresses.count == 1 && pool.count == 1)
    }

    @Test func domainPatterns() throws {
        let suffix = try #require(DomainPattern("Example.COM."))
        #expect(suffix.matches("example.com.") && suffix.matches("www.example.com.") && suffix.matches("a.b.example.com"))
        #expect(!suffix.matches("badexample.com.") && !suffix.matches("example.org."))
        let below = try #require(DomainPattern("*.example.com"))
        #expect(below.matches("www.example.com.") && !below.matches("example.com."))
        #expect(try #require(DomainPattern("*")).matches("anything.at.all."))
        #expect(DomainPattern("a*b.com") == nil && DomainPattern("") == nil && DomainPattern("a..b") == nil)
    }
}
