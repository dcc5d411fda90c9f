namespace Nemcache.Service.Protocol.Meta;

/// <summary>The meta commands' return codes and error lines, byte for byte as memcached 1.6.18 sends them.</summary>
internal static class MetaReplies
{
    public static ReadOnlySpan<byte> Value => "VA "u8;
    public static ReadOnlySpan<byte> Hit => "HD"u8;
    public static ReadOnlySpan<byte> Miss => "EN"u8;
    public static ReadOnlySpan<byte> NotStored => "NS"u8;
    public static ReadOnlySpan<byte> Exists => "EX"u8;
    public static ReadOnlySpan<byte> NotFound => "NF"u8;
    public static ReadOnlySpan<byte> NoOp => "MN\r\n"u8;
    public static ReadOnlySpan<byte> Debug => "ME "u8;
    public static ReadOnlySpan<byte> InvalidFlag => "CLIENT_ERROR invalid flag\r\n"u8;
    public static ReadOnlySpan<byte> DuplicateFlag => "CLIENT_ERROR duplicate flag\r\n"u8;
    /// <summary>What md and ma answer for any flag they cannot parse, whatever the reason.</summary>
    public static ReadOnlySpan<byte> InvalidOrDuplicateFlag => "CLIENT_ERROR invalid or duplicate flag\r\n"u8;
    public static ReadOnlySpan<byte> BadToken => "CLIENT_ERROR bad token in command line format\r\n"u8;
    /// <summary>Too many tokens: mg's wording, then that of ms, md and ma.</summary>
    public static ReadOnlySpan<byte> FlagsAreTooLong => "CLIENT_ERROR options flags are too long\r\n"u8;
    public static ReadOnlySpan<byte> FlagsTooLong => "CLIENT_ERROR options flags too long\r\n"u8;
    public static ReadOnlySpan<byte> OpaqueTooLong => "CLIENT_ERROR opaque token too long\r\n"u8;
    public static ReadOnlySpan<byte> BadModeLength => "CLIENT_ERROR incorrect length for M token\r\n"u8;
    public static ReadOnlySpan<byte> BadInitial => "CLIENT_ERROR invalid numeric initial value\r\n"u8;
    public static ReadOnlySpan<byte> BadDelta => "CLIENT_ERROR invalid numeric delta value\r\n"u8;
    public static ReadOnlySpan<byte> BadKeyEncoding => "CLIENT_ERROR error decoding key\r\n"u8;
    public static ReadOnlySpan<byte> InvalidSetMode => "CLIENT_ERROR invalid mode for ms M token\r\n"u8;
    public static ReadOnlySpan<byte> InvalidArithmeticMode => "CLIENT_ERROR invalid mode for ma M token\r\n"u8;
}
