// Original file: deviceplugin/v1beta1/api.proto


export interface PreStartContainerRequest {
  'devices_ids'?: (string)[];
}

export interface PreStartContainerRequest__Output {
  'devices_ids': (string)[];
}
