using System.Reflection;
using System.Reflection.Emit;
using Nemcache.Service;
using Nemcache.Storage.Cache;

namespace Nemcache.Tests.Architecture;

/// <summary>
/// Keeps the namespaces of the Service and of Nemcache.Storage graphs without cycles (docs/architecture.md, "Projects,
/// folders and their dependencies", "Inside the Service"). The references
/// are read from the compiled assembly: every type's base, interfaces, fields, properties, method signatures, locals
/// and the members its IL calls, so a reference a parent namespace makes without a using directive counts too. A
/// constant is copied into the IL that reads it and so is not seen.
/// </summary>
public sealed class NamespaceGraphTests
{
    private const string ServiceNamespace = "Nemcache.Service";
    private const string StorageNamespace = "Nemcache.Storage";

    /// <summary>The top-level statements' class, in the global namespace: the host's wiring.</summary>
    private const string Wiring = "Program";

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => (OpCode)field.GetValue(null)!)
        .ToDictionary(code => code.Value);

    [Test]
    public void ServiceNamespacesDependOnEachOtherWithoutCycles() => AssertWithoutCycles(ServiceGraph());

    [Test]
    public void StorageNamespacesDependOnEachOtherWithoutCycles() => AssertWithoutCycles(StorageGraph());

    [Test]
    public void TheCacheKnowsNoPersistence()
    {
        var cache = StorageGraph()[StorageNamespace + ".Cache"];

        Assert.That(cache.Where(target => target.StartsWith(StorageNamespace + ".Persistence", StringComparison.Ordinal)), Is.Empty);
    }

    private static void AssertWithoutCycles(Dictionary<string, HashSet<string>> graph)
    {
        TestContext.Out.WriteLine(string.Join(Environment.NewLine,
            graph.OrderBy(node => node.Key).Select(node => $"{node.Key} -> {string.Join(", ", node.Value.Order())}")));

        var cycle = FindCycle(graph);
        Assert.That(cycle, Is.Null, () => "namespace cycle: " + string.Join(" -> ", cycle!));
    }

    [Test]
    public void NetworkingKnowsNoProtocol()
    {
        var networking = ServiceGraph()[ServiceNamespace + ".Networking"];

        Assert.That(networking.Where(target => target.StartsWith(ServiceNamespace + ".Protocol", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void TheGraphSeesAReferenceWithoutAUsingDirective()
    {
        // Text reaches Networking through a using directive, and the shared Protocol pieces (ServerContext) through
        // its enclosing namespace alone.
        var text = ServiceGraph()[ServiceNamespace + ".Protocol.Text"];

        Assert.That(text, Does.Contain(ServiceNamespace + ".Protocol").And.Contain(ServiceNamespace + ".Networking"));
    }

    private static Dictionary<string, HashSet<string>> ServiceGraph() =>
        DependencyGraph(typeof(BuildInfo).Assembly, ServiceNamespace);

    private static Dictionary<string, HashSet<string>> StorageGraph() =>
        DependencyGraph(typeof(MemCache).Assembly, StorageNamespace);

    /// <summary>For each namespace under <paramref name="root"/> (and the Service's wiring), the other ones its types
    /// reference.</summary>
    private static Dictionary<string, HashSet<string>> DependencyGraph(Assembly assembly, string root)
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (var type in assembly.GetTypes())
        {
            if (NodeOf(type, assembly, root) is not { } from)
            {
                continue;
            }
            var targets = graph.TryGetValue(from, out var known) ? known : graph[from] = [];
            foreach (var referenced in ReferencedTypes(type))
            {
                if (NodeOf(referenced, assembly, root) is { } to && to != from)
                {
                    targets.Add(to);
                }
            }
        }
        return graph;
    }

    /// <summary>The namespace a type of the assembly belongs to; null for other assemblies' types and for what the
    /// compiler generates at the top level (its private implementation details, embedded attributes).</summary>
    private static string? NodeOf(Type type, Assembly assembly, string root)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }
        if (type.Assembly != assembly)
        {
            return null;
        }
        if (type.Namespace is { } name)
        {
            return name == root || name.StartsWith(root + ".", StringComparison.Ordinal) ? name : null;
        }
        return type.Name == Wiring ? Wiring : null;
    }

    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        const BindingFlags declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic
            | BindingFlags.Instance | BindingFlags.Static;
        var found = new List<Type>();
        if (type.BaseType is { } baseType)
        {
            found.Add(baseType);
        }
        found.AddRange(type.GetInterfaces());
        found.AddRange(type.GetFields(declared).Select(field => field.FieldType));
        found.AddRange(type.GetProperties(declared).Select(property => property.PropertyType));
        foreach (var method in type.GetMethods(declared).Cast<MethodBase>().Concat(type.GetConstructors(declared)))
        {
            AddSignature(found, method);
            if (method.GetMethodBody() is { } body)
            {
                found.AddRange(body.LocalVariables.Select(local => local.LocalType));
                AddOperands(found, method, body.GetILAsByteArray() ?? []);
            }
        }
        return found.SelectMany(Unwrap);
    }

    private static void AddSignature(List<Type> found, MethodBase method)
    {
        if (method.DeclaringType is { } declaring)
        {
            found.Add(declaring);
        }
        found.AddRange(method.GetParameters().Select(parameter => parameter.ParameterType));
        if (method is MethodInfo info)
        {
            found.Add(info.ReturnType);
        }
    }

    /// <summary>The types, fields and methods the IL names: what a method body calls, reads and creates.</summary>
    private static void AddOperands(List<Type> found, MethodBase method, byte[] il)
    {
        var typeArguments = method.DeclaringType is { IsGenericType: true } generic ? generic.GetGenericArguments() : null;
        var methodArguments = method is MethodInfo { IsGenericMethod: true } ? method.GetGenericArguments() : null;
        var at = 0;
        while (at < il.Length)
        {
            var value = (short)il[at++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[at++]));
            }
            var code = OpCodesByValue[value];
            switch (code.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    at += 1;
                    break;
                case OperandType.InlineVar:
                    at += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    at += 8;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + 4 * BitConverter.ToInt32(il, at);
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                    switch (member)
                    {
                        case Type referenced:
                            found.Add(referenced);
                            break;
                        case FieldInfo field:
                            found.Add(field.DeclaringType!);
                            found.Add(field.FieldType);
                            break;
                        case MethodBase called:
                            AddSignature(found, called);
                            break;
                    }
                    at += 4;
                    break;
                default:
                    // InlineI, InlineBrTarget, ShortInlineR, InlineString, InlineSig: a four-byte operand.
                    at += 4;
                    break;
            }
        }
    }

    /// <summary>A type and the types it is made of: an array's element, a generic's arguments.</summary>
    private static IEnumerable<Type> Unwrap(Type type)
    {
        if (type.IsGenericParameter)
        {
            yield break;
        }
        if (type.HasElementType)
        {
            foreach (var element in Unwrap(type.GetElementType()!))
            {
                yield return element;
            }
            yield break;
        }
        yield return type;
        if (type.IsConstructedGenericType)
        {
            foreach (var argument in type.GetGenericArguments().SelectMany(Unwrap))
            {
                yield return argument;
            }
        }
    }

    /// <summary>One cycle, as the namespaces along it with the first repeated at the end, or null when there is none.</summary>
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var done = new HashSet<string>();
        var path = new List<string>();
        foreach (var start in graph.Keys.Order())
        {
            if (Visit(start) is { } cycle)
            {
                return cycle;
            }
        }
        return null;

        List<string>? Visit(string node)
        {
            var onPath = path.IndexOf(node);
            if (onPath >= 0)
            {
                return [.. path[onPath..], node];
            }
            if (!done.Add(node))
            {
                return null;
            }
            path.Add(node);
            foreach (var next in graph.GetValueOrDefault(node, []).Order())
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }
            path.RemoveAt(path.Count - 1);
            return null;
        }
    }
}
