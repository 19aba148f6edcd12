# Lets vagrant-libvirt before 0.12.2 (Debian 12 ships 0.11.2) attach e1000 NICs. It decides
# whether to write <driver iommu='off'/> into an interface by the provider's default NIC model
# (virtio) instead of the interface's own, so every e1000 link fails with libvirt's "iommu
# driver option is only supported for virtio devices" (vagrant-libvirt issues #1688, #1743).
# This drops the option from interfaces that are not virtio, as the fixed releases do.
# Loaded by the Vagrantfile; does nothing without vagrant-libvirt or with a fixed release.
require "vagrant-libvirt/version" if defined?(VagrantPlugins::ProviderLibvirt)
if defined?(VagrantPlugins::ProviderLibvirt.get_version) &&
   Gem::Version.new(VagrantPlugins::ProviderLibvirt.get_version) < Gem::Version.new("0.12.2")
  module LaggkitIommuOnlyForVirtio
    def interface_xml(type, source_options, mac, device_name, iface_number, model_type, mtu,
                      driver_options, udp_tunnel = {}, pci_bus, pci_slot)
      if driver_options && model_type.to_s != "virtio"
        driver_options = driver_options.reject { |key, _| key == :iommu }
        driver_options = nil if driver_options.empty?
      end
      super(type, source_options, mac, device_name, iface_number, model_type, mtu,
            driver_options, udp_tunnel, pci_bus, pci_slot)
    end
  end
  VagrantPlugins::ProviderLibvirt::Action::CreateNetworkInterfaces.prepend(LaggkitIommuOnlyForVirtio)
end
