namespace Nemcache.Service.Protocol.Binary;

/// <summary>The binary protocol's response status codes that Nemcache sends.</summary>
internal enum BinaryStatus : ushort
{
    Success = 0x00,
    KeyNotFound = 0x01,
    KeyExists = 0x02,
    ValueTooLarge = 0x03,
    InvalidArguments = 0x04,
    ItemNotStored = 0x05,
    NonNumeric = 0x06,
    UnknownCommand = 0x81,
    /// <summary>Sent for a mutation while persistence cannot write (a full disk): nothing was changed.</summary>
    InternalError = 0x84,
}

internal static class BinaryStatusMessages
{
    /// <summary>The text memcached 1.6 sends as the body of an error response, byte for byte.</summary>
    public static ReadOnlySpan<byte> For(BinaryStatus status) => status switch
    {
        BinaryStatus.KeyNotFound => "Not found"u8,
        BinaryStatus.KeyExists => "Data exists for key."u8,
        BinaryStatus.ValueTooLarge => "Too large."u8,
        BinaryStatus.InvalidArguments => "Invalid arguments"u8,
        BinaryStatus.ItemNotStored => "Not stored."u8,
        BinaryStatus.NonNumeric => "Non-numeric server-side value for incr or decr"u8,
        BinaryStatus.UnknownCommand => "Unknown command"u8,
        BinaryStatus.InternalError => "Persistence failed"u8,
        _ => [],
    };
}
