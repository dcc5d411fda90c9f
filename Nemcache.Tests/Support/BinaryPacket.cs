using System.Buffers.Binary;
using System.Text;

namespace Nemcache.Tests.Support;

/// <summary>One binary-protocol response as it came off the wire.</summary>
public sealed record BinaryResponse(byte Magic, byte Opcode, ushort Status, byte[] Extras, byte[] Key, byte[] Value, uint Opaque, ulong Cas)
{
    public string KeyText => Encoding.Latin1.GetString(Key);
    public string ValueText => Encoding.Latin1.GetString(Value);
    public uint ExtrasAsFlags => BinaryPrimitives.ReadUInt32BigEndian(Extras);
    public ulong ValueAsNumber => BinaryPrimitives.ReadUInt64BigEndian(Value);
}

/// <summary>Builds binary-protocol requests byte by byte and reads responses, for tests that speak raw packets.</summary>
public static class BinaryPacket
{
    public const byte Get = 0x00, Set = 0x01, Add = 0x02, Replace = 0x03, Delete = 0x04, Increment = 0x05, Decrement = 0x06,
        Quit = 0x07, Flush = 0x08, GetQ = 0x09, Noop = 0x0a, Version = 0x0b, GetK = 0x0c, GetKQ = 0x0d, Append = 0x0e,
        Prepend = 0x0f, Stat = 0x10, SetQ = 0x11, AddQ = 0x12, DeleteQ = 0x14, QuitQ = 0x17, Verbosity = 0x1b, Touch = 0x1c,
        Gat = 0x1d, GatQ = 0x1e, GatK = 0x23;

    /// <summary>A request; <paramref name="bodyLength"/> overrides the header's body length to build malformed packets.</summary>
    public static byte[] Request(byte opcode, string key = "", byte[]? extras = null, string value = "", ulong cas = 0,
        uint opaque = 0xdeadbeef, byte magic = 0x80, uint? bodyLength = null)
    {
        extras ??= [];
        var keyBytes = Encoding.Latin1.GetBytes(key);
        var valueBytes = Encoding.Latin1.GetBytes(value);
        var packet = new byte[24 + extras.Length + keyBytes.Length + valueBytes.Length];
        packet[0] = magic;
        packet[1] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)keyBytes.Length);
        packet[4] = (byte)extras.Length;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), bodyLength ?? (uint)(packet.Length - 24));
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), opaque);
        BinaryPrimitives.WriteUInt64BigEndian(packet.AsSpan(16), cas);
        extras.CopyTo(packet, 24);
        keyBytes.CopyTo(packet, 24 + extras.Length);
        valueBytes.CopyTo(packet, 24 + extras.Length + keyBytes.Length);
        return packet;
    }

    /// <summary>set, add and replace extras: flags, then expiry.</summary>
    public static byte[] StoreExtras(uint flags, uint exptime) => [.. BigEndian(flags), .. BigEndian(exptime)];

    /// <summary>incr and decr extras: delta, initial value, expiry (0xffffffff: do not create).</summary>
    public static byte[] ArithmeticExtras(ulong delta, ulong initial, uint exptime)
    {
        var extras = new byte[20];
        BinaryPrimitives.WriteUInt64BigEndian(extras, delta);
        BinaryPrimitives.WriteUInt64BigEndian(extras.AsSpan(8), initial);
        BinaryPrimitives.WriteUInt32BigEndian(extras.AsSpan(16), exptime);
        return extras;
    }

    public static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static async Task<BinaryResponse> ReadResponseAsync(this TextClient client)
    {
        var header = await client.ReadExactlyAsync(24);
        var keyLength = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        var extrasLength = header[4];
        var bodyLength = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
        var body = bodyLength == 0 ? [] : await client.ReadExactlyAsync(bodyLength);
        return new BinaryResponse(header[0], header[1], BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(6)),
            body[..extrasLength], body[extrasLength..(extrasLength + keyLength)], body[(extrasLength + keyLength)..],
            BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)), BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(16)));
    }
}
