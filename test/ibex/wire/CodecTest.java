package ibex.wire;

import static ibex.wire.Samples.body;
import static ibex.wire.Samples.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CodecTest {

    private static Message roundTrip(Message m) throws WireException {
        byte[] frame = Codec.encode(m);
        int length = (frame[0] & 0xFF) << 24 | (frame[1] & 0xFF) << 16 | (frame[2] & 0xFF) << 8 | (frame[3] & 0xFF);
        assertEquals(frame.length - 4, length, "length prefix counts type byte and body");
        return Codec.decode(frame[4] & 0xFF, Arrays.copyOfRange(frame, 5, frame.length));
    }

    @Test
    void roundTrip_everyMessageType_isEqual() throws WireException {
        for (var m : Samples.everyType()) {
            assertEquals(m, roundTrip(m), m.getClass().getSimpleName());
        }
    }

    @Test
    void roundTrip_emptyListsAndStrings_isEqual() throws WireException {
        var empties = List.<Message>of(
                new Greeting(0, "", new byte[0]),
                Hello.unauthenticated("", "", ""),
                new Welcome("", 0),
                new Heartbeat(0, List.of()),
                new Heartbeat(1, List.of(new Heartbeat.Report(0, 0, HostStatus.FAILED, 0, "", ""))),
                new Assignments(0, List.of(), List.of()),
                new TaskScript(0, "", "", "", "", 0),
                new ErrorReply(0, ""));
        for (var m : empties) {
            assertEquals(m, roundTrip(m), m.toString());
        }
    }

    @Test
    void roundTrip_unicodeAndLargeStrings_isEqual() throws WireException {
        String big = "x".repeat(3_000_000) + Samples.UNICODE.repeat(10_000);
        var m = new TaskScript(1, big, Samples.UNICODE, big, "ü", Integer.MIN_VALUE);
        assertEquals(m, roundTrip(m));
    }

    @Test
    void roundTrip_extremeNumbers_isEqual() throws WireException {
        var m = new Assignments(Long.MIN_VALUE, List.of(new Assignments.Ack(-1, Long.MAX_VALUE)),
                List.of(new Assignment(Long.MIN_VALUE, -1, Assignment.Kind.KILL)));
        assertEquals(m, roundTrip(m));
    }

    @Test
    void encode_welcome_matchesTheSpecifiedBytes() {
        // u32 length 10, type 0x03, string "s" (u32 1, 0x73), i32 heartbeatMs 1000
        assertArrayEquals(hex("0000000A 03 00000001 73 000003E8"), Codec.encode(new Welcome("s", 1000)));
    }

    @Test
    void encode_assignments_matchesTheSpecifiedBytes() {
        var m = new Assignments(5, List.of(new Assignments.Ack(7, 2)),
                List.of(new Assignment(9, 3, Assignment.Kind.START), new Assignment(10, 4, Assignment.Kind.KILL)));
        assertArrayEquals(hex("00000043 11 0000000000000005"
                + "00000001 0000000000000007 0000000000000002"
                + "00000002 0000000000000009 0000000000000003 01 000000000000000A 0000000000000004 02"),
                Codec.encode(m));
    }

    @Test
    void encode_heartbeat_sendsStatusAsItsWireName() {
        var m = new Heartbeat(1, List.of(new Heartbeat.Report(2, 3, HostStatus.KILLFAILED, 9, "o", "e")));
        assertArrayEquals(hex("00000049 10 0000000000000001 00000001 0000000000000002 0000000000000003"
                + "0000000A 6B696C6C6661696C6564 00000009 0000000000000000 00000001 6F 0000000000000000 00000001 65"),
                Codec.encode(m));
    }

    @Test
    void encode_runningReport_sendsEachOffsetBeforeItsText() {
        var m = new Heartbeat(1, List.of(Heartbeat.Report.running(2, 3, 5, "o", 7, "")));
        assertArrayEquals(hex("00000045 10 0000000000000001 00000001 0000000000000002 0000000000000003"
                + "00000007 72756E6E696E67 FFFFFFFF 0000000000000005 00000001 6F 0000000000000007 00000000"),
                Codec.encode(m));
    }

    @Test
    void decode_resultWithAnOffset_fails() {
        // A success report whose stderr offset is 1: a result always carries the whole output.
        var body = hex("0000000000000001 00000001 0000000000000002 0000000000000003 00000007 73756363657373 00000000"
                + "0000000000000000 00000000 0000000000000001 00000000");
        var e = assertThrows(WireException.class, () -> Codec.decode(0x10, body));
        assertEquals("task 2: a result ('success') carries the whole output at offset 0, got offsets 0 and 1"
                + " in frame type 0x10 (Heartbeat)", e.getMessage());
    }

    @Test
    void decode_negativeOffset_fails() {
        var body = hex("0000000000000001 00000001 0000000000000002 0000000000000003 00000007 72756E6E696E67 FFFFFFFF"
                + "FFFFFFFFFFFFFFFF 00000000 0000000000000000 00000000");
        var e = assertThrows(WireException.class, () -> Codec.decode(0x10, body));
        assertEquals("task 2: live output offsets must not be negative, got -1 and 0 in frame type 0x10 (Heartbeat)",
                e.getMessage());
    }

    @Test
    void report_offsetsThatDoNotFitTheStatus_cannotBeConstructed() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Heartbeat.Report(4, 1, HostStatus.FAILED, 1, 3, "x", 0, ""));
        assertEquals("task 4: a result ('failed') carries the whole output at offset 0, got offsets 3 and 0", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Heartbeat.Report.running(4, 1, 0, "", -2, ""));
    }

    @Test
    void encode_typeCodes_areTheSpecifiedBytes() {
        var expected = new int[] {0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x7F};
        var all = Samples.everyType();
        for (int i = 0; i < all.size(); i++) {
            assertEquals(expected[i], Codec.encode(all.get(i))[4] & 0xFF, all.get(i).getClass().getSimpleName());
        }
    }

    @Test
    void encode_unpairedSurrogate_isSentAsQuestionMark() throws WireException {
        assertEquals(new ErrorReply(1, "a?b"), roundTrip(new ErrorReply(1, "a\uD800b")));
    }

    @Test
    void decode_unknownType_fails() {
        var e = assertThrows(WireException.class, () -> Codec.decode(0x42, new byte[0]));
        assertEquals("unknown message type 0x42", e.getMessage());
    }

    @Test
    void decode_trailingBytes_fails() {
        var e = assertThrows(WireException.class, () -> Codec.decode(0x13, hex("0000000000000001 00 00")));
        assertEquals("frame type 0x13 (ScriptRequest) has 2 trailing bytes after its last field", e.getMessage());
    }

    @Test
    void decode_bodyEndingInsideField_fails() {
        var e = assertThrows(WireException.class, () -> Codec.decode(0x13, hex("000000")));
        assertEquals("frame type 0x13 (ScriptRequest) ends inside field 'taskId': needs 8 bytes, 3 left",
                e.getMessage());
    }

    @Test
    void decode_stringLengthBeyondBody_failsNamingLengthAndBytesLeft() {
        var welcome = body(new BodyWriter().i32(1_000_000).i64(0).i32(0));
        var e = assertThrows(WireException.class, () -> Codec.decode(0x03, welcome));
        assertEquals("string length 1000000 exceeds the 12 bytes left in frame type 0x03 (Welcome) (field server)",
                e.getMessage());
    }

    @Test
    void decode_bytesLengthMaxU32_fails() {
        var e = assertThrows(WireException.class, () -> Codec.decode(0x01, hex("00000001 00000000 FFFFFFFF")));
        assertEquals("bytes length 4294967295 exceeds the 0 bytes left in frame type 0x01 (Greeting) (field nonce)",
                e.getMessage());
    }

    @Test
    void decode_hugeCountInSmallFrame_failsWithoutAllocating() {
        long before = Allocation.threadBytes();
        var e = assertThrows(WireException.class, () -> Codec.decode(0x10, hex("0000000000000001 7FFFFFFF 00")));
        assertTrue(Allocation.threadBytes() - before < 1 << 20, "allocated less than 1 MiB");
        assertEquals("list count 2147483647 of field 'reports' needs at least 103079215056 bytes but 1 are left"
                + " in frame type 0x10 (Heartbeat)", e.getMessage());
        assertThrows(WireException.class, () -> Codec.decode(0x11, hex("0000000000000000 00000000 FFFFFFFF")));
        assertThrows(WireException.class, () -> Codec.decode(0x11, hex("0000000000000000 FFFFFFFF")));
    }

    @Test
    void decode_countJustFittingButItemsShort_failsCleanly() {
        // one Ack needs 16 bytes; 16 are there but the tasks count is missing
        var e = assertThrows(WireException.class,
                () -> Codec.decode(0x11, hex("0000000000000000 00000001 00000000000000010000000000000002")));
        assertEquals("frame type 0x11 (Assignments) ends inside field 'tasks': needs 4 bytes, 0 left", e.getMessage());
    }

    @Test
    void decode_malformedUtf8_fails() {
        for (String bad : List.of("C080", "EDA080", "FF", "E282", "80", "F4908080")) {
            byte[] raw = hex(bad);
            var body = body(new BodyWriter().i32(1).bytes(raw));
            var e = assertThrows(WireException.class, () -> Codec.decode(0x7F, body), bad);
            assertEquals("malformed UTF-8 in string field 'message' of frame type 0x7F (ErrorReply) at body offset 8",
                    e.getMessage());
        }
    }

    @Test
    void decode_unknownStatus_fails() {
        var body = body(new BodyWriter().i64(1).count(1).i64(7).i64(2).string("done").i32(0).i64(0).string("").i64(0).string(""));
        var e = assertThrows(WireException.class, () -> Codec.decode(0x10, body));
        assertEquals("task 7: unknown status 'done' in frame type 0x10 (Heartbeat)", e.getMessage());
    }

    @Test
    void decode_statusAnAgentCannotReport_fails() {
        var body = body(new BodyWriter().i64(1).count(1).i64(7).i64(2).string("waiting").i32(0).i64(0).string("").i64(0).string(""));
        var e = assertThrows(WireException.class, () -> Codec.decode(0x10, body));
        assertEquals("task 7: status 'waiting' cannot be reported in frame type 0x10 (Heartbeat)", e.getMessage());
    }

    @Test
    void decode_statusInUpperCase_isUnknown() {
        var body = body(new BodyWriter().i64(1).count(1).i64(7).i64(2).string("SUCCESS").i32(0).i64(0).string("").i64(0).string(""));
        assertThrows(WireException.class, () -> Codec.decode(0x10, body));
    }

    @Test
    void decode_unknownAssignmentKind_fails() {
        for (int kind : new int[] {0, 3, 255}) {
            var body = body(new BodyWriter().i64(0).count(0).count(1).i64(9).i64(1).u8(kind));
            var e = assertThrows(WireException.class, () -> Codec.decode(0x11, body));
            assertEquals("task 9: unknown assignment kind " + kind + " in frame type 0x11 (Assignments)", e.getMessage());
        }
    }

    @Test
    void report_withStatusAgentsDoNotSend_isRejected() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Heartbeat.Report(3, 1, HostStatus.CANCELLED, 0, "", ""));
        assertEquals("task 3: status 'cancelled' cannot be reported by an agent, only running or a result",
                e.getMessage());
    }

    @Test
    void recordsWithBytes_compareByContentAndCopyTheirArrays() {
        byte[] nonce = {1, 2, 3};
        var g = new Greeting(1, "s", nonce);
        nonce[0] = 9;
        assertEquals(new Greeting(1, "s", new byte[] {1, 2, 3}), g);
        assertEquals(new Greeting(1, "s", new byte[] {1, 2, 3}).hashCode(), g.hashCode());
        g.nonce()[1] = 9;
        assertEquals(2, g.nonce()[1]);
        assertNotEquals(new Greeting(1, "s", new byte[] {1, 2}), g);
        assertEquals("Greeting[protocolVersion=1, server=s, nonce=3 bytes]", g.toString());
        var h = Hello.unauthenticated("h", "id", "v");
        assertEquals(Hello.unauthenticated("h", "id", "v"), h);
        assertNotEquals(new Hello(1, "h", "id", "v", new byte[] {0}, new byte[0], new byte[0]), h);
    }

    @Test
    void errorReply_codeName_namesEveryCode() {
        assertEquals("PROTOCOL", ErrorReply.codeName(ErrorReply.PROTOCOL));
        assertEquals("TOO_LARGE", ErrorReply.codeName(5));
        assertEquals("INTERNAL", ErrorReply.codeName(6));
        assertEquals("code 42", ErrorReply.codeName(42));
    }
}
