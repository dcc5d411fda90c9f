using System.Globalization;
using System.Net;
using Nemcache.Service.Networking;

namespace Nemcache.Service.Protocol.Stats;

/// <summary>`stats conns`: every open socket by file descriptor, in memcached's fields and state names.</summary>
internal static class ConnectionListing
{
    public static List<KeyValuePair<string, string>> List(ConnectionTable connections)
    {
        var stats = new List<KeyValuePair<string, string>>();
        foreach (var open in connections.Snapshot())
        {
            var prefix = open.Descriptor.ToString(CultureInfo.InvariantCulture) + ":";
            if (open.IsListener)
            {
                stats.Add(KeyValuePair.Create(prefix + "addr", Address(open.LocalEndPoint)));
                stats.Add(KeyValuePair.Create(prefix + "state", "conn_listening"));
            }
            else
            {
                stats.Add(KeyValuePair.Create(prefix + "addr", Address(open.RemoteEndPoint)));
                stats.Add(KeyValuePair.Create(prefix + "listen_addr", Address(open.LocalEndPoint)));
                stats.Add(KeyValuePair.Create(prefix + "state", open.IsRunning ? "conn_parse_cmd" : "conn_waiting"));
            }
            stats.Add(KeyValuePair.Create(prefix + "secs_since_last_cmd", open.SecondsSinceLastCommand.ToString(CultureInfo.InvariantCulture)));
        }
        return stats;
    }

    private static string Address(IPEndPoint? endPoint)
    {
        if (endPoint is null)
        {
            return "tcp:unknown";
        }
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"tcp6:[{address}]:{endPoint.Port}"
            : $"tcp:{address}:{endPoint.Port}";
    }
}
