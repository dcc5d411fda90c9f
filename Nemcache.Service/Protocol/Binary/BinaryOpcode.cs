namespace Nemcache.Service.Protocol.Binary;

/// <summary>The binary protocol's command codes (memcached's protocol_binary.h). The Q forms answer only on failure
/// (the get forms: only on a hit).</summary>
internal static class BinaryOpcode
{
    public const byte Get = 0x00;
    public const byte Set = 0x01;
    public const byte Add = 0x02;
    public const byte Replace = 0x03;
    public const byte Delete = 0x04;
    public const byte Increment = 0x05;
    public const byte Decrement = 0x06;
    public const byte Quit = 0x07;
    public const byte Flush = 0x08;
    public const byte GetQ = 0x09;
    public const byte Noop = 0x0a;
    public const byte Version = 0x0b;
    public const byte GetK = 0x0c;
    public const byte GetKQ = 0x0d;
    public const byte Append = 0x0e;
    public const byte Prepend = 0x0f;
    public const byte Stat = 0x10;
    public const byte SetQ = 0x11;
    public const byte AddQ = 0x12;
    public const byte ReplaceQ = 0x13;
    public const byte DeleteQ = 0x14;
    public const byte IncrementQ = 0x15;
    public const byte DecrementQ = 0x16;
    public const byte QuitQ = 0x17;
    public const byte FlushQ = 0x18;
    public const byte AppendQ = 0x19;
    public const byte PrependQ = 0x1a;
    public const byte Verbosity = 0x1b;
    public const byte Touch = 0x1c;
    public const byte Gat = 0x1d;
    public const byte GatQ = 0x1e;
    public const byte GatK = 0x23;
    public const byte GatKQ = 0x24;

    public static bool IsQuiet(byte opcode) => opcode is GetQ or GetKQ or SetQ or AddQ or ReplaceQ or DeleteQ
        or IncrementQ or DecrementQ or QuitQ or FlushQ or AppendQ or PrependQ or GatQ or GatKQ;

    /// <summary>The get forms whose reply carries the key.</summary>
    public static bool ReturnsKey(byte opcode) => opcode is GetK or GetKQ or GatK or GatKQ;
}
