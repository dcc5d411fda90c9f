using System.Buffers;
using System.Buffers.Binary;

namespace Nemcache.Service.Protocol.Binary;

/// <summary>
/// The 24-byte header of every binary packet, big-endian: magic, opcode, key length (2), extras length, data type,
/// vbucket (request) or status (response) (2), total body length (4), opaque (4), CAS (8). The body that follows is
/// the extras, then the key, then the value.
/// </summary>
internal readonly record struct BinaryHeader(byte Magic, byte Opcode, ushort KeyLength, byte ExtrasLength, uint BodyLength,
    uint Opaque, ulong Cas)
{
    public const int Size = 24;
    public const byte RequestMagic = 0x80;
    public const byte ResponseMagic = 0x81;

    /// <summary>The value's length: what the body holds beyond extras and key. Negative for a malformed header.</summary>
    public long ValueLength => (long)BodyLength - KeyLength - ExtrasLength;

    /// <summary>Reads the header at the start of <paramref name="input"/>, which holds at least <see cref="Size"/> bytes.</summary>
    public static BinaryHeader Read(in ReadOnlySequence<byte> input)
    {
        Span<byte> copy = stackalloc byte[Size];
        scoped ReadOnlySpan<byte> bytes;
        if (input.FirstSpan.Length >= Size)
        {
            bytes = input.FirstSpan;
        }
        else
        {
            input.Slice(0, Size).CopyTo(copy);
            bytes = copy;
        }
        return new BinaryHeader(
            Magic: bytes[0],
            Opcode: bytes[1],
            KeyLength: BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]),
            ExtrasLength: bytes[4],
            BodyLength: BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]),
            Opaque: BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]),
            Cas: BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]));
    }

    /// <summary>Writes a response header for this request's opcode and opaque.</summary>
    public void WriteResponse(IBufferWriter<byte> output, BinaryStatus status, int keyLength, int extrasLength, int bodyLength, ulong cas)
    {
        var bytes = output.GetSpan(Size)[..Size];
        bytes[0] = ResponseMagic;
        bytes[1] = Opcode;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], (ushort)keyLength);
        bytes[4] = (byte)extrasLength;
        bytes[5] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[6..], (ushort)status);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[8..], (uint)bodyLength);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[12..], Opaque);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[16..], cas);
        output.Advance(Size);
    }
}
