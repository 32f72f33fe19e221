// Defining a VM: a name, a cluster, and its domain XML (libvirt's, as virsh define takes it),
// filled in with the tiny Linux that boots to a shell on its serial console in a few seconds.

import { useState } from "preact/hooks";
import type { ApiObject, EngineClient } from "./client.js";

/** The default VM: the project's tiny Linux (kernel and initramfs), 64 MiB, console on COM1. */
export function tinyLinuxXml(name: string, memoryMiB = 64): string {
  return `<domain type="kvm">
  <name>${name}</name>
  <memory unit="MiB">${memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch="i686">hvm</type>
    <kernel>guests/linux/bzImage</kernel>
    <initrd>guests/linux/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <devices>
    <serial type="pty"><target port="0"/></serial>
    <console type="pty"><target type="serial" port="0"/></console>
  </devices>
</domain>`;
}

export function NewVm(props: { client: EngineClient; clusters: ApiObject[]; onDone: (e?: Error) => void }) {
  const { client, clusters } = props;
  const [name, setName] = useState("");
  const [cluster, setCluster] = useState("");
  const [xml, setXml] = useState("");
  const [busy, setBusy] = useState(false);
  const chosen = cluster || clusters[0]?.id || "";
  const vmName = name.trim() || "vm1";
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    try {
      await client.add("vms", { name: vmName, cluster: { id: chosen }, domain_xml: xml || tinyLinuxXml(vmName) });
      setName("");
      setXml("");
      props.onDone();
    } catch (e) {
      props.onDone(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="new-vm" onSubmit={submit} aria-labelledby="new-vm-title">
      <h2 id="new-vm-title">New VM</h2>
      <label>
        Name <input id="new-vm-name" value={name} placeholder="vm1" onInput={(e) => setName(e.currentTarget.value)} />
      </label>{" "}
      <label>
        Cluster{" "}
        <select id="new-vm-cluster" value={chosen} onChange={(e) => setCluster(e.currentTarget.value)}>
          {clusters.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>{" "}
      <button type="submit" id="new-vm-define" disabled={busy || !chosen}>
        Define
      </button>
      <details>
        <summary>Domain XML</summary>
        <textarea
          id="new-vm-xml"
          aria-label="domain XML"
          rows={14}
          cols={72}
          value={xml || tinyLinuxXml(vmName)}
          onInput={(e) => setXml(e.currentTarget.value)}
        />
      </details>
    </form>
  );
}
